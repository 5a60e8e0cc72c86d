/**
 * What the HTTP fault tests share: a throw-away home, the `weather` CLI as a child process pointed at an
 * in-test simulator, and readers for everything a run leaves behind (raw objects, every text column of
 * the database). Embedded PGlite in the home by default; a throw-away database when DATABASE_URL is set.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import type { Database } from "#core/adapters/database.ts";
import { openEmbeddedDatabase } from "#core/adapters/embedded-database.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

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

/** Variables a developer's shell may hold that would change what the child does. */
const SCRUBBED_ENV = [
  "DATABASE_URL",
  "DATABASE_SECRET_ARN",
  "RAW_STORE",
  "WEATHER_HOME",
  "WEATHER_SOURCE",
  "OPENWEATHER_API_KEY",
  "OPENWEATHER_SECRET_ARN",
  "OPEN_METEO_BASE_URL",
  "OPENWEATHER_BASE_URL",
];

export async function createFaultHome(prefix: string): Promise<FaultHome> {
  const dir = await mkdtemp(join(tmpdir(), `wdo-${prefix}-`));
  const server: TestDatabase | undefined = process.env.DATABASE_URL
    ? await createTestDatabase({ migrate: false })
    : undefined;
  const dbArgs = server ? ["--db", server.url] : [];
  return {
    dir,
    weather(args, env = {}) {
      const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SCRUBBED_ENV.includes(k)));
      return new Promise((resolve) => {
        // Asynchronous on purpose: the simulator answering the child runs in this process.
        execFile(
          "node",
          ["bin/weather.js", ...args, "--home", dir, ...dbArgs],
          { env: { ...base, ...env }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
          (error, stdout, stderr) => {
            const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    },
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
      const db: Database = await openEmbeddedDatabase(join(dir, "pg"));
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

/**
 * Every value of every text-like column (text, varchar, json, jsonb, arrays of them) of every table in
 * the application's schemas, one string per value: what a secret check must search.
 */
export async function dumpTextColumns(pool: pg.Pool): Promise<{ column: string; value: string }[]> {
  const { rows: columns } = await pool.query<{ schema: string; table: string; column: string }>(
    `select c.table_schema as schema, c.table_name as table, c.column_name as column
       from information_schema.columns c
       join information_schema.tables t using (table_schema, table_name)
      where t.table_type = 'BASE TABLE'
        and c.table_schema not in ('pg_catalog', 'information_schema')
        and (c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb')
             or (c.data_type = 'ARRAY' and c.udt_name in ('_text', '_varchar', '_json', '_jsonb')))
      order by 1, 2, 3`,
  );
  const out: { column: string; value: string }[] = [];
  for (const { schema, table, column } of columns) {
    const q = (id: string) => `"${id.replaceAll('"', '""')}"`;
    const { rows } = await pool.query<{ v: string | null }>(
      `select ${q(column)}::text as v from ${q(schema)}.${q(table)}`,
    );
    for (const r of rows) if (r.v !== null) out.push({ column: `${schema}.${table}.${column}`, value: r.v });
  }
  return out;
}

/** The sites file the CLI uses by default, as the tests' truth for counts. */
export async function defaultSiteCount(): Promise<number> {
  return (JSON.parse(await readFile("config/sites.json", "utf8")) as unknown[]).length;
}
