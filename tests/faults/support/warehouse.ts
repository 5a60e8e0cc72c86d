/**
 * Readers for the database a CLI run leaves behind: open it, compare it by full-row checksums, and
 * dump every text value (what a secret check must search).
 */
import { join } from "node:path";
import type pg from "pg";
import type { Database } from "#core/adapters/database.ts";
import { openDatabase } from "#core/adapters/database.ts";
import { openEmbeddedDatabase } from "#core/adapters/embedded-database.ts";
import { SILVER_AND_GOLD } from "../../sql/support.ts";

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
export const DATA_TABLES = ["bronze.weather_observations", ...SILVER_AND_GOLD] as const;

/**
 * Checksums of every data table. With `lineage: false`, the columns that say when and from which raw
 * object a row was loaded are left out — two runs fetched at different instants hold the same data
 * under different load stamps. `change_xid` is always left out: like Postgres's own `xmin`, it names
 * the transaction that wrote the row (the transform's change marker), which no replay can reproduce.
 */
export async function warehouseChecksums(pool: pg.Pool, opts: { lineage: boolean }) {
  const physical = ["change_xid"];
  const lineage = [...physical, "ingestion_run_id", "ingested_at", "raw_object_key"];
  return Promise.all(
    DATA_TABLES.map(async (t) =>
      checksum(pool, t, await columnsExcept(pool, t, opts.lineage ? physical : lineage)),
    ),
  );
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
