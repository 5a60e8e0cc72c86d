/**
 * A throw-away home for the HTTP fault tests: the `weather` CLI pointed at it (and at an in-test
 * simulator), and readers for what a run leaves behind. Embedded PGlite in the home by default; a
 * throw-away database when DATABASE_URL is set.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.ts";
import { type CliResult, weather } from "./cli.ts";
import { openWarehouse } from "./warehouse.ts";

export interface FaultHome {
  dir: string;
  /** Runs `weather <args>` against this home (and the test database), with extra environment. */
  weather(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** Every raw object under the home's raw store: key → text. */
  raw(): Promise<Map<string, string>>;
  /** Opens the run's database (after the CLI exited, for the embedded one) and runs `fn` on it. */
  withDb<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T>;
  destroy(): Promise<void>;
}

/** Variables a developer's shell may hold that would change what the child does: removed. */
const SCRUBBED_ENV = Object.fromEntries(
  [
    "DATABASE_URL",
    "DATABASE_SECRET_ARN",
    "RAW_STORE",
    "WEATHER_HOME",
    "WEATHER_SOURCE",
    "OPENWEATHER_API_KEY",
    "OPENWEATHER_SECRET_ARN",
    "OPEN_METEO_BASE_URL",
    "OPENWEATHER_BASE_URL",
  ].map((k) => [k, undefined]),
);

/** Creates a home under the temp dir (and a throw-away database when DATABASE_URL is set). */
export async function createFaultHome(prefix: string): Promise<FaultHome> {
  const dir = await mkdtemp(join(tmpdir(), `wdo-${prefix}-`));
  const server: TestDatabase | undefined = process.env.DATABASE_URL
    ? await createTestDatabase({ migrate: false })
    : undefined;
  const dbArgs = server ? ["--db", server.url] : [];
  return {
    dir,
    // Asynchronous on purpose: the simulator answering the child runs in this process.
    weather: (args, env = {}) =>
      weather([...args, "--home", dir, ...dbArgs], { env: { ...SCRUBBED_ENV, ...env }, timeoutMs: 120_000 }),
    async raw() {
      const root = join(dir, "raw");
      const out = new Map<string, string>();
      const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isFile()) continue;
        const path = join(e.parentPath, e.name);
        out.set(path.slice(root.length + 1), await readFile(path, "utf8"));
      }
      return out;
    },
    async withDb(fn) {
      if (server) return fn(server.pool);
      const db = await openWarehouse({ home: dir });
      try {
        return await fn(db.pool);
      } finally {
        await db.close();
      }
    },
    async destroy() {
      await server?.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The sites file the CLI uses by default, as the tests' truth for counts. */
export async function defaultSiteCount(): Promise<number> {
  return (JSON.parse(await readFile("config/sites.json", "utf8")) as unknown[]).length;
}
