/**
 * The embedded default: PGlite (Postgres compiled to WebAssembly) persisted on disk and served over
 * the wire protocol on a loopback port, so the same `pg` code path serves it. Kept apart from
 * database.ts so Lambda bundles never include PGlite.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { MIGRATIONS_DIR, migrate } from "../db/migrate.ts";
import type { Log } from "../observability/logger.ts";
import {
  Client,
  type Database,
  DEFAULT_SESSION_SETTINGS,
  guardPool,
  Pool,
  type SessionSettings,
  sessionParameters,
} from "./database.ts";

// PGlite's default 128 MB buffer pool is most of a run's memory and buys nothing for one writer
// whose pages the OS caches anyway (bench:first-run: 447 → 339 MiB peak for an hourly run).
const POSTGRESQL_CONF = "shared_buffers = 16MB";

/**
 * The template a fresh home starts from: a PGlite data directory, initialized and migrated. Its name
 * holds PGlite's version and a hash of the migrations, so a new PGlite or a new migration never
 * starts a home from a stale one. Built by `npm ci` (scripts/embedded-template.ts) into
 * WEATHER_CACHE_DIR; copying it (≈40 MB of files) replaces initdb plus every migration (≈4 s and a
 * second PGlite instance: 900 MiB peak).
 */
export function embeddedTemplatePath(cacheDir: string): string {
  // The package exports no package.json: find it from the entry point (…/pglite/dist/index.*).
  const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const { version } = JSON.parse(readFileSync(join(dirname(dirname(entry)), "package.json"), "utf8")) as {
    version: string;
  };
  const hash = createHash("sha256");
  for (const f of readdirSync(MIGRATIONS_DIR).sort())
    hash.update(f).update(readFileSync(join(MIGRATIONS_DIR, f)));
  return join(cacheDir, `pglite-${version}-${hash.digest("hex").slice(0, 12)}`);
}

/** Copies the files under `from` into `to`, all at once (fs.cp copies one by one: 10× slower here). */
async function copyTree(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { recursive: true, withFileTypes: true });
  const rel = (e: (typeof entries)[number]) => relative(from, join(e.parentPath, e.name));
  for (const e of entries) if (e.isDirectory()) await mkdir(join(to, rel(e)), { recursive: true });
  await Promise.all(
    entries.filter((e) => e.isFile()).map((e) => copyFile(join(from, rel(e)), join(to, rel(e)))),
  );
}

/** Builds {@link embeddedTemplatePath} in `cacheDir`, atomically: a half-built one is never copied. */
export async function buildEmbeddedTemplate(cacheDir: string): Promise<string> {
  const target = embeddedTemplatePath(cacheDir);
  await mkdir(cacheDir, { recursive: true });
  const scratch = await mkdtemp(join(cacheDir, ".build-"));
  try {
    const dataDir = join(scratch, "pg");
    const db = await PGlite.create({ dataDir, postgresqlconf: POSTGRESQL_CONF });
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
    await server.start();
    const pool = new Pool({
      connectionString: `postgres://postgres@${server.getServerConn()}/postgres`,
      max: 1,
      Client,
    });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
      await server.stop();
      await db.close();
    }
    await rename(dataDir, target);
    return target;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Starts PGlite (on `dataDir`, or in memory when absent). Callers must `close()` the result.
 * Its socket server ignores startup parameters and multiplexes every client over PGlite's one
 * session, so the session settings are SET once on that session. (PGlite enforces no timers:
 * `statement_timeout` shows but never fires, and with one session no lock is ever waited for.)
 * A new `dataDir` starts as a copy of the template in `templateDir` when there is one for this PGlite
 * and these migrations ({@link embeddedTemplatePath}), else PGlite runs initdb.
 */
export async function openEmbeddedDatabase(
  dataDir?: string,
  opts: { settings?: Partial<SessionSettings>; log?: Pick<Log, "warn">; templateDir?: string } = {},
): Promise<Database> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const template =
    dataDir && opts.templateDir && !existsSync(join(dataDir, "PG_VERSION"))
      ? embeddedTemplatePath(opts.templateDir)
      : undefined;
  if (dataDir && template && existsSync(template)) await copyTree(template, dataDir);
  const db = await PGlite.create({ dataDir, postgresqlconf: POSTGRESQL_CONF });
  const settings = { ...DEFAULT_SESSION_SETTINGS, ...opts.settings };
  const params = Object.entries(sessionParameters(settings));
  await db.query(
    `select ${params.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(", ")}`,
    params.flat(),
  );
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 4 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable`;
  // PGlite is a single session: a transaction on one client blocks all others, so the pool holds one.
  const pool = new Pool({
    connectionString: url,
    max: 1,
    Client,
    connectionTimeoutMillis: settings.connectTimeoutMs,
  });
  guardPool(pool, opts.log);
  return {
    pool,
    url,
    embedded: true,
    close: async () => {
      await pool.end();
      await server.stop();
      await db.close();
    },
  };
}
