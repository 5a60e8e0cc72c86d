/**
 * Bulk transform (issue 12, item 4): a backfilled range is transformed by ONE silver run and ONE gold
 * run (transformRange) with the workflow's gates, and leaves exactly the rows of a full rebuild and of
 * hour-by-hour incremental runs — moving averages included, also after the range's end — with
 * lineage saying what it was, and watermarks that let the next incremental run do only its hour.
 */

import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { rebuildAll, runTransform, TransformInputError, transformRange } from "#core/use-cases/transform.ts";
import {
  at,
  type BronzeRow,
  insertBronze,
  insertIngestionRun,
  reading,
  T0,
} from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { checksums, plainRows, resetDerived } from "./support.ts";

const SITES = ["s1", "s2", "s3"];
// Five days of live data (hours 0..119) with gaps; the backfill covers days 1..3 (hours 24..95).
const HOURS = 120;
const FROM = 24;
const TO = 95;
const intervalAt = (h: number) => new Date(T0 + h * 3_600_000).toISOString().slice(0, 13);

let db: TestDatabase;

/** A live reading is missing at every 5th hour, and for s3 on all of day 2 (hours 48..71). */
const liveMissing = (site: string, h: number) => h % 5 === 0 || (site === "s3" && h >= 48 && h < 72);

/** Deterministic temperatures with decimals, so sums and means must be exact to match. */
const temperature = (site: string, h: number, kind: string) =>
  Math.round(
    (10 + 8 * Math.sin(h / 7) + SITES.indexOf(site) * 1.37 + (kind === "current" ? 0 : 0.25)) * 1000,
  ) / 1000;

/** Live ingestion of one hour, then the workflow's transforms for it (no checks: speed). */
async function liveHour(pool: pg.Pool, h: number): Promise<void> {
  const runId = `live-${h}`;
  await insertIngestionRun(pool, runId, intervalAt(h));
  const rows = SITES.filter((s) => !liveMissing(s, h)).map((s) =>
    reading(s, h, 40, { temperature_c: temperature(s, h, "current"), ingestion_run_id: runId }),
  );
  // s1 also has a second source: gold combines sources (not kinds).
  if (h % 3 === 0)
    rows.push(
      reading("s1", h, 20, {
        source: "openweather",
        temperature_c: temperature("s1", h, "current") - 1,
        precipitation_window_minutes: 60,
        ingestion_run_id: runId,
      }),
    );
  await insertBronze(pool, rows, new Date(T0 + h * 3_600_000 + 50 * 60_000));
}

async function incrementalHour(pool: pg.Pool, h: number): Promise<void> {
  await runTransform(pgOpsPorts(pool), { layer: "silver", interval: intervalAt(h) });
  await runTransform(pgOpsPorts(pool), { layer: "gold", interval: intervalAt(h) });
}

/** History for every site-hour of the range: forecast values, and archive values for day 1. */
async function loadHistory(pool: pg.Pool): Promise<void> {
  await insertIngestionRun(pool, "history-1", intervalAt(TO));
  const rows: BronzeRow[] = [];
  for (let h = FROM; h <= TO; h++) {
    for (const site of SITES) {
      const over = { temperature_c: temperature(site, h, "forecast"), precipitation_window_minutes: 60 };
      rows.push(reading(site, h, 0, { ...over, kind: "forecast", ingestion_run_id: "history-1" }));
      if (h < 48)
        rows.push(
          reading(site, h, 0, {
            ...over,
            temperature_c: over.temperature_c + 0.5,
            kind: "archive",
            ingestion_run_id: "history-1",
          }),
        );
    }
  }
  await insertBronze(pool, rows, new Date(T0 + (HOURS + 1) * 3_600_000));
}

/** An independent oracle: the 24 h and 7 d trailing means straight from gold's hourly rows. */
async function movingAvgMismatches(pool: pg.Pool, fromHour: number, toHour: number): Promise<unknown[]> {
  const { rows } = await pool.query(
    `with expected as (
       select h.site_id, h.hour,
         (select round(avg(round(x.temperature_c * 1000)::bigint) / 1000, 6) from gold_internal.site_hourly as x
          where x.site_id = h.site_id and x.hour > h.hour - interval '24 hours' and x.hour <= h.hour) as ma_24h,
         (select round(avg(round(x.temperature_c * 1000)::bigint) / 1000, 6) from gold_internal.site_hourly as x
          where x.site_id = h.site_id and x.hour > h.hour - interval '168 hours' and x.hour <= h.hour) as ma_7d,
         (select count(*) from gold_internal.site_hourly as x
          where x.site_id = h.site_id and x.hour > h.hour - interval '168 hours' and x.hour <= h.hour) as n_7d
       from gold_internal.site_hourly as h
       where h.hour >= $1 and h.hour < $2
     )
     select e.*, m.temp_ma_24h_c, m.temp_ma_7d_c, m.samples_7d
     from expected as e
     left join gold_internal.site_temperature_moving_avg as m on m.site_id = e.site_id and m.hour = e.hour
     where m.hour is null
       or round(m.temp_ma_24h_c::numeric, 6) <> e.ma_24h
       or round(m.temp_ma_7d_c::numeric, 6) <> e.ma_7d
       or m.samples_7d <> e.n_7d`,
    [at(fromHour), at(toHour + 1)],
  );
  return rows;
}

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(
    `insert into silver.sites (site_id, site_name, latitude, longitude, timezone, country)
     select s, s, 0, 0, 'UTC', 'XX' from unnest($1::text[]) as s`,
    [SITES],
  );
});
afterAll(async () => {
  await db?.destroy();
});

describe("transformRange", () => {
  it("rejects a reversed range and an unknown trigger before doing anything", async () => {
    await expect(
      transformRange(pgOpsPorts(db.pool), {
        from: intervalAt(TO),
        to: intervalAt(FROM),
        trigger: "backfill",
      }),
    ).rejects.toThrow(TransformInputError);
    await expect(
      transformRange(pgOpsPorts(db.pool), {
        from: intervalAt(FROM),
        to: intervalAt(TO),
        trigger: "nightly" as "heal",
      }),
    ).rejects.toThrow(/trigger/);
  });

  it("a backfilled range: one run per layer, the rows of a full rebuild and of hour-by-hour runs", async () => {
    // Prepare: five days of live data with gaps, transformed (one incremental run takes every
    // changed row: the same rows as hour-by-hour runs, tests/sql/determinism.test.ts)
    for (let h = 0; h < HOURS; h++) await liveHour(db.pool, h);
    await incrementalHour(db.pool, HOURS - 1);
    const before = await plainRows(
      db.pool,
      "select samples_7d from gold_internal.site_temperature_moving_avg where site_id = 's3' and hour = $1",
      [at(TO + 21)],
    );
    // ...history for days 1..3, and a late live row outside the range, changed since the watermark
    await loadHistory(db.pool);
    await insertIngestionRun(db.pool, "live-late", intervalAt(5));
    await insertBronze(db.pool, [
      reading("s2", 5, 40, { temperature_c: 3.5, ingestion_run_id: "live-late" }),
    ]);
    const { rows: runsBefore } = await db.pool.query<{ n: number }>(
      "select count(*)::int as n from ops.transform_runs",
    );

    // Act
    const result = await transformRange(pgOpsPorts(db.pool), {
      from: intervalAt(FROM),
      to: intervalAt(TO),
      trigger: "backfill",
    });

    // Assess: one run per layer, both gates passed over the range
    expect(result.silverChecks.passed && result.goldChecks.passed).toBe(true);
    expect(result.silverChecks.window.end).toBe(at(TO + 1));
    expect(result.silverChecks.window.start).toBe(at(5)); // widened back to the late hour it also took
    const { rows: runs } = await db.pool.query(
      `select layer, mode, trigger, interval, window_start, window_end, status, cardinality(affected_hours) as hours
       from ops.transform_runs order by run_id offset $1`,
      [runsBefore[0]?.n],
    );
    const lineage = {
      mode: "range",
      trigger: "backfill",
      interval: intervalAt(TO),
      window_start: new Date(at(FROM)),
      window_end: new Date(at(TO + 1)),
      status: "succeeded",
      hours: TO - FROM + 2, // the range and the late hour 5
    };
    expect(runs).toEqual([
      { layer: "silver", ...lineage },
      { layer: "gold", ...lineage },
    ]);
    expect(result.silver).toMatchObject({ mode: "range", trigger: "backfill", affectedHours: TO - FROM + 2 });
    // Precedence: live hours stay live, gaps are filled by archive (day 1) or forecast (days 2..3)
    const kinds = await plainRows(
      db.pool,
      `select kind, count(*)::int as n from silver.observations where source = 'open-meteo' and hour >= $1 and hour < $2
       group by kind order by kind`,
      [at(FROM), at(TO + 1)],
    );
    const liveInRange = SITES.flatMap((s) =>
      Array.from({ length: TO - FROM + 1 }, (_, i) => FROM + i).filter((h) => !liveMissing(s, h)),
    ).length;
    const archiveGaps = SITES.flatMap((s) =>
      Array.from({ length: 24 }, (_, i) => FROM + i).filter((h) => liveMissing(s, h)),
    ).length;
    expect(kinds).toEqual([
      { kind: "archive", n: archiveGaps },
      { kind: "current", n: liveInRange },
      { kind: "forecast", n: SITES.length * (TO - FROM + 1) - liveInRange - archiveGaps },
    ]);
    // Moving averages right inside the range and across both edges, up to a week after its end
    expect(await movingAvgMismatches(db.pool, 0, HOURS - 1)).toEqual([]);
    const after = await plainRows(
      db.pool,
      "select samples_7d from gold_internal.site_temperature_moving_avg where site_id = 's3' and hour = $1",
      [at(TO + 21)],
    );
    expect(after[0]?.samples_7d).toBeGreaterThan(before[0]?.samples_7d as number); // s3's day 2 filled
    const bulk = await checksums(db.pool);

    // ...equal to a full rebuild, full rows of every silver and gold relation
    await resetDerived(db.pool);
    await rebuildAll(pgOpsPorts(db.pool), { interval: intervalAt(HOURS - 1) });
    expect(await checksums(db.pool)).toEqual(bulk);

    // ...and to hour-by-hour incremental runs over the same bronze (each run its own hour only)
    await resetDerived(db.pool);
    // Watermarks at "everything transformed", so each run scopes its own hour's ingestion runs
    await db.pool.query(
      `insert into ops.transform_watermarks (layer, watermark, updated_at)
       select l, pg_current_snapshot(), now() from unnest(array['silver', 'gold']) as l`,
    );
    for (let h = 0; h < HOURS; h++) await incrementalHour(db.pool, h);
    expect(await checksums(db.pool)).toEqual(bulk);
  }, 180_000);

  it("leaves watermarks an incremental run continues from: nothing missed, only its hour redone", async () => {
    // Prepare: the state of a bulk run, then a new live hour and a late row outside the range
    await resetDerived(db.pool);
    await transformRange(pgOpsPorts(db.pool), {
      from: intervalAt(0),
      to: intervalAt(HOURS - 1),
      trigger: "heal",
    });
    await liveHour(db.pool, HOURS);
    await insertIngestionRun(db.pool, "live-late-2", intervalAt(60));
    await insertBronze(db.pool, [
      reading("s3", 60, 10, { temperature_c: 1.5, ingestion_run_id: "live-late-2" }),
    ]);
    // Act
    const silver = await runTransform(pgOpsPorts(db.pool), { layer: "silver", interval: intervalAt(HOURS) });
    const gold = await runTransform(pgOpsPorts(db.pool), { layer: "gold", interval: intervalAt(HOURS) });
    // Assess: the new hour and the late hour, nothing of the range
    expect(silver.affectedHours).toBe(2);
    expect(gold.affectedHours).toBe(2);
    const { rows } = await db.pool.query<{ n: number }>(
      "select count(*)::int as n from silver.observations where site_id = 's3' and hour = $1 and kind = 'current'",
      [at(60)],
    );
    expect(rows[0]?.n).toBe(1); // the live row replaced the forecast
    // ...and a run with nothing new redoes only its own hour
    const again = await runTransform(pgOpsPorts(db.pool), { layer: "silver", interval: intervalAt(HOURS) });
    expect(again.affectedHours).toBe(1);
  });
});
