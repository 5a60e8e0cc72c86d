/**
 * What only a full run does:
 * - it drops each target's key and indexes, inserts, and re-creates them (core/sql/runner.ts
 *   dropIndexes): afterwards every layer has the key and indexes the migrations made, the key still
 *   refuses a duplicate, and a run that fails after a drop leaves the rows, the key and the indexes;
 * - its sites of one source take site_hourly's direct path (one_source_hours), which must give the
 *   rows the general path gives (hour-by-hour runs take it for every site).
 */

import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { rebuildAll, runTransform } from "#core/use-cases/transform.ts";
import {
  type BronzeRow,
  FIXTURE_INTERVAL,
  insertBronze,
  insertIngestionRun,
  loadFixture,
  reading,
  T0,
} from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { checksums, resetDerived, SILVER_AND_GOLD } from "./support.ts";

let db: TestDatabase;

/** Every index (its definition), constraint and column nullability of silver and gold, sorted. */
async function layerSchema(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ line: string }>(
    `select 'index ' || indexrelid::regclass::text || ' ' || pg_get_indexdef(indexrelid) as line
     from pg_index where indrelid = any($1::regclass[])
     union all
     select 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
     from pg_constraint where conrelid = any($1::regclass[])
     union all
     select 'column ' || attrelid::regclass::text || ' ' || attname || case when attnotnull then ' not null' else '' end
     from pg_attribute where attrelid = any($1::regclass[]) and attnum > 0 and not attisdropped
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
    const before = await layerSchema(db.pool);
    expect(before.filter((l) => l.includes("PRIMARY KEY"))).toHaveLength(SILVER_AND_GOLD.length);
    // Act
    await rebuildAll(pgOpsPorts(db.pool), { interval: FIXTURE_INTERVAL });
    // Assess
    expect(await layerSchema(db.pool)).toEqual(before);
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
    const before = await layerSchema(db.pool);
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
    expect(await layerSchema(db.pool)).toEqual(before);
    expect(await checksums(db.pool)).toEqual(rowsBefore);
  });

  it("a site of one source: the direct path gives the rows of the general path, to the last bit", async () => {
    // Prepare: a database of its own. gamma has one source over 30 hours, with what the aggregates
    // could change: precipitation rates of 16 digits (0.1 mm over 7 minutes), thirds, nulls, an
    // implausible hour, a history row beside a live one, a forecast-only hour. delta has one source
    // but a second in one hour, so it takes the general path in the full run too.
    const own = await createTestDatabase();
    try {
      const hours = Array.from({ length: 30 }, (_, h) => h);
      const interval = (h: number) => new Date(T0 + h * 3_600_000).toISOString().slice(0, 13);
      const rows: BronzeRow[] = [];
      for (const h of hours) {
        await insertIngestionRun(own.pool, `run-${h}`, interval(h), "openweather");
        const base = {
          source: "openweather" as const,
          ingestion_run_id: `run-${h}`,
          raw_object_key: `raw/openweather/${interval(h)}.json`,
          temperature_c: h % 7 === 0 ? null : h / 3,
          feels_like_c: h / 7,
          humidity_pct: h === 4 ? 130 : h % 7 === 0 ? null : 40 + h / 9,
          wind_gust_ms: h % 4 === 0 ? null : h / 11,
          precipitation_mm: 0.1 * (h % 3),
          precipitation_window_minutes: 7,
        };
        rows.push(reading("gamma", h, 40, { ...base, kind: h === 10 ? "forecast" : "current" }));
        if (h % 5 === 0) rows.push(reading("gamma", h, 0, { ...base, kind: "archive", temperature_c: -h }));
        rows.push(reading("delta", h, 20, { ...base, temperature_c: h / 6 }));
        if (h === 6)
          rows.push(reading("delta", h, 25, { ...base, source: "open-meteo", temperature_c: 2.2 }));
      }
      await insertBronze(own.pool, rows);
      const { rows: paths } = await own.pool.query<{ n: number }>(
        "select count(distinct source)::int as n from bronze.weather_observations group by site_id order by site_id",
      );
      expect(paths.map((r) => r.n)).toEqual([2, 1]); // delta: two sources; gamma: one
      // Act: a full rebuild, then the same rows hour by hour from nothing
      await rebuildAll(pgOpsPorts(own.pool), { interval: interval(29) });
      const full = await checksums(own.pool);
      await resetDerived(own.pool);
      for (const layer of ["silver", "gold"] as const)
        for (const h of hours) await runTransform(pgOpsPorts(own.pool), { layer, interval: interval(h) });
      // Assess
      const { rows: gamma } = await own.pool.query<{ n: number }>(
        "select count(*)::int as n from gold_internal.site_hourly where site_id = 'gamma'",
      );
      expect(gamma[0]?.n).toBe(29); // every hour but the implausible one
      expect(await checksums(own.pool)).toEqual(full);
    } finally {
      await own.destroy();
    }
  });
});
