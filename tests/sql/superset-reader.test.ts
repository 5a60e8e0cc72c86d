/**
 * The BI role superset_reader (sql/migrations/0020_superset_reader.sql): it reads every gold view —
 * which read gold_internal and silver.sites with their owner's privileges — and nothing below gold,
 * and it can write nowhere. Runs on PGlite (`set role` inside a transaction) and on Postgres.
 */
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_INTERVAL, loadFixture } from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { runPipeline } from "./support.ts";

const ROLE = "superset_reader";
const GOLD_VIEWS = [
  "v_data_freshness",
  "v_latest_conditions",
  "v_pipeline_health",
  "v_pipeline_runs",
  "v_site_daily",
  "v_site_hourly",
  "v_temperature_moving_avg",
];
const HIDDEN_SCHEMAS = ["bronze", "silver", "ops", "gold_internal"];

let db: TestDatabase;
let hiddenTables: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  await loadFixture(db.pool);
  await runPipeline(db.pool, FIXTURE_INTERVAL);
  const { rows } = await db.pool.query<{ name: string }>(
    `select format('%I.%I', schemaname, tablename) as name from pg_tables
     where schemaname = any($1) order by 1`,
    [HIDDEN_SCHEMAS],
  );
  hiddenTables = rows.map((r) => r.name);
});
afterAll(async () => {
  await db?.destroy();
});

/**
 * Runs `sql` as superset_reader in a transaction that is always rolled back, on one client (PGlite is
 * one session, and `set local role` must share the transaction with the statement).
 */
async function asReader(sql: string): Promise<pg.QueryResult> {
  const client = await db.pool.connect();
  try {
    await client.query("begin");
    await client.query(`set local role ${ROLE}`);
    return await client.query(sql);
  } finally {
    await client.query("rollback");
    client.release();
  }
}

/** The SQLSTATE of the error `sql` raises as the reader, or "none". */
async function sqlstateAsReader(sql: string): Promise<string> {
  return asReader(sql).then(
    () => "none",
    (e: unknown) => String((e as { code?: string }).code),
  );
}

describe("superset_reader", () => {
  it("reads every gold view, and every one returns rows", async () => {
    // Prepare
    const { rows } = await db.pool.query<{ viewname: string }>(
      "select viewname from pg_views where schemaname = 'gold' order by 1",
    );
    const views = rows.map((r) => r.viewname);
    expect(views).toEqual(expect.arrayContaining(GOLD_VIEWS));
    // Act
    const counts: Record<string, number> = {};
    for (const v of views) {
      const r = await asReader(`select count(*)::int as n from gold.${v}`);
      counts[v] = r.rows[0].n;
    }
    // Assess
    for (const v of views) expect(counts[v], v).toBeGreaterThan(0);
  });

  it("cannot read a bronze, silver, ops or gold_internal table", async () => {
    // Prepare
    expect(hiddenTables.length).toBeGreaterThanOrEqual(10);
    for (const schema of HIDDEN_SCHEMAS) {
      expect(
        hiddenTables.some((t) => t.startsWith(`${schema}.`)),
        schema,
      ).toBe(true);
    }
    // Act
    const denied: Record<string, string> = {};
    for (const t of hiddenTables) denied[t] = await sqlstateAsReader(`select * from ${t} limit 1`);
    // Assess: 42501 insufficient_privilege, table by table
    expect(denied).toEqual(Object.fromEntries(hiddenTables.map((t) => [t, "42501"])));
  });

  it("holds no write privilege on any relation and cannot create in any schema", async () => {
    // Act
    const { rows: writable } = await db.pool.query(
      `select format('%I.%I', n.nspname, c.relname) as name
       from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
       where c.relkind in ('r', 'v', 'm', 'p', 'f')
         and n.nspname not in ('pg_catalog', 'information_schema')
         and has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')`,
      [ROLE],
    );
    const { rows: creatable } = await db.pool.query(
      `select nspname from pg_namespace
       where nspname not like 'pg\\_%' and nspname <> 'information_schema'
         and has_schema_privilege($1, oid, 'CREATE')`,
      [ROLE],
    );
    // Assess
    expect(writable).toEqual([]);
    expect(creatable).toEqual([]);
  });

  it("is refused when it tries to write", async () => {
    // Act
    const attempts = {
      insertBronze: await sqlstateAsReader("insert into bronze.weather_observations default values"),
      deleteGoldInternal: await sqlstateAsReader("delete from gold_internal.site_daily"),
      truncateOps: await sqlstateAsReader("truncate ops.transform_runs"),
      createInGold: await sqlstateAsReader("create table gold.scratch (x int)"),
      createInPublic: await sqlstateAsReader("create table public.scratch (x int)"),
      dropView: await sqlstateAsReader("drop view gold.v_site_daily"),
    };
    // Assess
    expect(attempts).toEqual({
      insertBronze: "42501",
      deleteGoldInternal: "42501",
      truncateOps: "42501",
      createInGold: "42501",
      createInPublic: "42501",
      dropView: "42501",
    });
  });

  it("is read-only by default when it logs in", async () => {
    // Act
    const { rows } = await db.pool.query<{ config: string[] | null }>(
      "select rolconfig as config from pg_roles where rolname = $1",
      [ROLE],
    );
    // Assess
    expect(rows[0]?.config).toContain("default_transaction_read_only=on");
  });

  it("reads a gold view created after the migration (default privileges)", async () => {
    // Prepare
    await db.pool.query("create view gold.v_scratch_later as select 1 as x");
    try {
      // Act
      const r = await asReader("select x from gold.v_scratch_later");
      // Assess
      expect(r.rows).toEqual([{ x: 1 }]);
    } finally {
      await db.pool.query("drop view gold.v_scratch_later");
    }
  });
});
