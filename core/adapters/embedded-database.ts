/**
 * The embedded default: PGlite (Postgres compiled to WebAssembly) persisted on disk and served over
 * the wire protocol on a loopback port, so the same `pg` code path serves it. Kept apart from
 * database.ts so Lambda bundles never include PGlite.
 */
import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
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

/**
 * Starts PGlite (on `dataDir`, or in memory when absent). Callers must `close()` the result.
 * Its socket server ignores startup parameters and multiplexes every client over PGlite's one
 * session, so the session settings are SET once on that session. (PGlite enforces no timers:
 * `statement_timeout` shows but never fires, and with one session no lock is ever waited for.)
 */
export async function openEmbeddedDatabase(
  dataDir?: string,
  opts: { settings?: Partial<SessionSettings>; log?: Pick<Log, "warn"> } = {},
): Promise<Database> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const db = dataDir ? await PGlite.create({ dataDir }) : await PGlite.create();
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
