/**
 * Fault-suite helpers: run the `weather` CLI as a child process (as a user or cron would), and compare
 * warehouses with full-row checksums.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import type pg from "pg";
import type { Database } from "#core/adapters/database.ts";
import { openDatabase } from "#core/adapters/database.ts";
import { openEmbeddedDatabase } from "#core/adapters/embedded-database.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/weather.js ...args` with `env` on top of the test's environment (DATABASE_URL cleared
 * unless `env` sets it). Never rejects: the exit code is part of the result.
 */
export function weatherCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 150_000,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      "node",
      ["bin/weather.js", ...args],
      { env: { ...process.env, DATABASE_URL: "", ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Where a CLI run keeps its database: a home's embedded PGlite, or a server URL. */
export type Warehouse = { home: string; url?: string };

/** Opens the warehouse's database (for the embedded one: only while no CLI process holds it). */
export async function openWarehouse(w: Warehouse): Promise<Database> {
  return w.url ? openDatabase(w.url) : openEmbeddedDatabase(join(w.home, "pg"));
}

/** Row count and md5 over the given columns (default: every column) of every row, in a total order. */
export async function checksum(
  pool: pg.Pool,
  table: string,
  columns?: string[],
): Promise<{ table: string; rows: number; md5: string }> {
  const row = columns ? `(${columns.join(", ")})` : "t";
  const { rows } = await pool.query<{ rows: number; md5: string }>(
    `select count(*)::int as rows, md5(coalesce(string_agg(${row}::text, '|' order by ${row}::text), '')) as md5
     from ${table} as t`,
  );
  return { table, rows: rows[0]?.rows ?? 0, md5: rows[0]?.md5 ?? "" };
}

/** Every column of a table except `exclude`, in table order. */
export async function columnsExcept(pool: pg.Pool, table: string, exclude: string[]): Promise<string[]> {
  const { rows } = await pool.query<{ attname: string }>(
    `select attname from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped
     order by attnum`,
    [table],
  );
  return rows.map((r) => r.attname).filter((c) => !exclude.includes(c));
}

/** The layers the pipeline writes, compared table by table. */
export const DATA_TABLES = [
  "bronze.weather_observations",
  "silver.observations",
  "gold_internal.site_hourly",
  "gold_internal.site_daily",
  "gold_internal.site_temperature_moving_avg",
  "gold_internal.site_latest_conditions",
] as const;

/**
 * Checksums of every data table. With `lineage: false`, the columns that say when and from which raw
 * object a row was loaded are left out — two runs fetched at different instants hold the same data
 * under different load stamps.
 */
export async function warehouseChecksums(pool: pg.Pool, opts: { lineage: boolean }) {
  const lineage = ["ingestion_run_id", "ingested_at", "raw_object_key"];
  return Promise.all(
    DATA_TABLES.map(async (t) =>
      checksum(pool, t, opts.lineage ? undefined : await columnsExcept(pool, t, lineage)),
    ),
  );
}
