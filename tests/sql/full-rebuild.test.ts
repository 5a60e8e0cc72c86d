/**
 * A full run drops each target's key and indexes, inserts, and re-creates them (core/sql/runner.ts
 * dropIndexes): afterwards every layer has the key and indexes the migrations made, the key still
 * refuses a duplicate, and a run that fails after a drop leaves the rows, the key and the indexes.
 */

import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { rebuildAll, runTransform } from "#core/use-cases/transform.ts";
import { FIXTURE_INTERVAL, loadFixture } from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { checksums, SILVER_AND_GOLD } from "./support.ts";

let db: TestDatabase;

/** Every index (with its definition) and constraint of the silver and gold tables, sorted. */
async function keysAndIndexes(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ line: string }>(
    `select 'index ' || indexrelid::regclass::text || ' ' || pg_get_indexdef(indexrelid) as line
     from pg_index where indrelid = any($1::regclass[])
     union all
     select 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
     from pg_constraint where conrelid = any($1::regclass[])
     order by 1`,
    [SILVER_AND_GOLD],
  );
  return rows.map((r) => r.line);
}

beforeAll(async () => {
  db = await createTestDatabase();
  await loadFixture(db.pool);
});
afterAll(async () => {
  await db?.destroy();
});

describe("full rebuild", () => {
  it("leaves every layer with the key and indexes the migrations made, and the key enforced", async () => {
    // Prepare
    const before = await keysAndIndexes(db.pool);
    expect(before.filter((l) => l.includes("PRIMARY KEY"))).toHaveLength(SILVER_AND_GOLD.length);
    // Act
    await rebuildAll(pgOpsPorts(db.pool), { interval: FIXTURE_INTERVAL });
    // Assess
    expect(await keysAndIndexes(db.pool)).toEqual(before);
    const { rows } = await db.pool.query<{ n: number }>(
      "select count(*)::int as n from gold_internal.site_hourly",
    );
    expect(rows[0]?.n).toBeGreaterThan(0);
    await expect(
      db.pool.query("insert into gold_internal.site_hourly select * from gold_internal.site_hourly limit 1"),
    ).rejects.toThrow(/site_hourly_pkey/);
  });

  it("a full run that fails after dropping a key rolls back whole: rows, key and indexes stay", async () => {
    // Prepare: a rebuilt gold, then a fault in the third relation's insert (the first two have been
    // truncated, stripped of their keys and indexes, refilled and re-keyed by then)
    await rebuildAll(pgOpsPorts(db.pool), { interval: FIXTURE_INTERVAL });
    const rowsBefore = await checksums(db.pool);
    const before = await keysAndIndexes(db.pool);
    await db.pool.query(`create function public.refuse_insert() returns trigger language plpgsql as
      $$ begin raise exception 'injected fault'; end $$`);
    await db.pool.query(`create trigger refuse before insert on gold_internal.site_temperature_moving_avg
      for each statement execute function public.refuse_insert()`);
    try {
      // Act
      await expect(
        runTransform(pgOpsPorts(db.pool), { layer: "gold", interval: FIXTURE_INTERVAL, full: true }),
      ).rejects.toThrow(/injected fault/);
    } finally {
      await db.pool.query("drop trigger refuse on gold_internal.site_temperature_moving_avg");
      await db.pool.query("drop function public.refuse_insert()");
    }
    // Assess
    expect(await keysAndIndexes(db.pool)).toEqual(before);
    expect(await checksums(db.pool)).toEqual(rowsBefore);
  });
});
