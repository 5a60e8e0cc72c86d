/**
 * Late data of any age: the transform scopes what changed in bronze since its layer's last
 * successful run (change_xid watermarks), so a late or replayed hour reaches silver and gold however
 * old it is, and the quality checks look at the hours the transform recomputed.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import type { BronzeRow } from "#core/ports.ts";
import { runTransform } from "#core/use-cases/transform.ts";
import { at, insertBronze, insertIngestionRun, loadFixture, reading } from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { plainRows, resetToFixture, runPipeline } from "./support.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await loadFixture(db.pool);
});
afterAll(async () => {
  await db?.destroy();
});
beforeEach(async () => {
  // Prepare (every test): the fixture (its interval: 2026-03-09T08, hour 200) transformed once.
  // The replay test corrects hour 20; every test starts from the fixture's value.
  await db.pool.query(
    `update bronze.weather_observations set temperature_c = 20
     where site_id = 'alpha' and source = 'open-meteo' and observed_at = $1 and temperature_c <> 20`,
    [at(20, 30)],
  );
  await resetToFixture(db.pool, "run-late");
  await runPipeline(db.pool, "2026-03-09T08");
});

/** Which of `hours` (offsets from the fixture's T0) alpha has a row for in `table`. */
async function alphaHours(table: string, hours: number[]): Promise<number[]> {
  const { rows } = await db.pool.query<{ h: number }>(
    `select h from unnest($1::int[]) as h
     where exists (
       select 1 from ${table} as t
       where t.site_id = 'alpha' and t.hour = $2::timestamptz + h * interval '1 hour'
     )
     order by h`,
    [hours, at(0)],
  );
  return rows.map((r) => r.h);
}

describe("late data", () => {
  it("hour 07 ingested after hour 12 was transformed: both reach gold, every run passes first try", async () => {
    // Prepare: hour 12 of 2026-03-09 (hour 204) ingested and run through silver and gold
    await insertIngestionRun(db.pool, "run-late-12", "2026-03-09T12");
    await insertBronze(db.pool, [
      reading("alpha", 204, 30, { temperature_c: 12, ingestion_run_id: "run-late-12" }),
    ]);
    await runPipeline(db.pool, "2026-03-09T12");
    // ...then hour 07 (hour 199), older than any fixed lookback from 12
    await insertIngestionRun(db.pool, "run-late-07", "2026-03-09T07");
    await insertBronze(db.pool, [
      reading("alpha", 199, 30, { temperature_c: 7, ingestion_run_id: "run-late-07" }),
    ]);

    // Act: 12 is transformed again before 07 (the order concurrent runs may take): its gold step
    // runs the silver checks, whose matches_bronze expects hour 07 in silver
    await runPipeline(db.pool, "2026-03-09T12");
    await runPipeline(db.pool, "2026-03-09T07");

    // Assess
    expect(await alphaHours("silver.observations", [199, 204])).toEqual([199, 204]);
    expect(await alphaHours("gold_internal.site_hourly", [199, 204])).toEqual([199, 204]);
    const { rows } = await db.pool.query(
      "select count(*)::int as n from ops.transform_runs where status <> 'succeeded'",
    );
    expect(rows[0].n).toBe(0);
  });

  it("an hour 10 days older than the interval reaches silver and gold, and the checks look at it", async () => {
    // Prepare: interval 2026-03-13T12 (hour 300) transformed; then a row for hour 60 (2026-03-03T12,
    // 240 hours older) arrives, loaded by a run labelled with its own old interval
    await insertIngestionRun(db.pool, "run-late-now", "2026-03-13T12");
    await insertBronze(db.pool, [
      reading("alpha", 300, 30, { temperature_c: 11, ingestion_run_id: "run-late-now" }),
    ]);
    await runPipeline(db.pool, "2026-03-13T12");
    await insertIngestionRun(db.pool, "run-late-old", "2026-03-03T12");
    await insertBronze(db.pool, [
      reading("alpha", 60, 30, { temperature_c: 33, ingestion_run_id: "run-late-old" }),
    ]);

    // Act: the next hour's pipeline
    await runPipeline(db.pool, "2026-03-13T13");

    // Assess: the old hour is in silver and gold
    const gold = await plainRows(
      db.pool,
      "select temperature_c from gold_internal.site_hourly where site_id = 'alpha' and hour = $1",
      [at(60)],
    );
    expect(gold).toEqual([{ temperature_c: 33 }]);
    // ...silver's run recorded it, and the silver checks gold ran first looked back to it
    const [run] = await plainRows(
      db.pool,
      `select affected_hours::text[] as hours from ops.transform_runs
       where layer = 'silver' and interval = '2026-03-13T13'`,
    );
    expect(run).toEqual({ hours: ["2026-03-03 12:00:00+00"] });
    const checks = await plainRows(
      db.pool,
      `select window_start from ops.quality_check_runs
       where interval = '2026-03-13T13' and status = 'passed'`,
    );
    expect(checks).toEqual([{ window_start: at(60) }]);
  });

  it("a replay that changes an old hour's row reaches silver and gold", async () => {
    // Prepare: hour 20 (2026-03-01T20, 8 days before the fixture interval) replayed through the
    // ingestion upsert with a corrected temperature; ingested_at stays the original fetch time
    const [old] = await plainRows(
      db.pool,
      `select ingested_at, ingestion_run_id, raw_object_key from bronze.weather_observations
       where site_id = 'alpha' and source = 'open-meteo' and observed_at = $1`,
      [at(20, 30)],
    );
    const replayed: BronzeRow = {
      siteId: "alpha",
      source: "open-meteo",
      kind: "current",
      observedAt: new Date(at(20, 30)),
      temperatureC: 21.5,
      feelsLikeC: null,
      humidityPct: 60,
      pressureHpa: 1013,
      windSpeedMs: 3,
      windGustMs: 4,
      windDirectionDeg: 180,
      cloudCoverPct: 50,
      precipitationMm: 0,
      precipitationWindowMinutes: 15,
      conditionCode: "3",
      conditionSystem: "wmo",
      payload: { replayed: true, temperature_2m: 21.5 },
      ingestionRunId: String(old?.ingestion_run_id),
      ingestedAt: new Date(String(old?.ingested_at)),
      rawObjectKey: String(old?.raw_object_key),
    };
    expect(await pgBronzeRepository(db.pool).upsertObservations([replayed])).toBe(1);

    // Act: the pipeline of a later interval with nothing ingested
    await runPipeline(db.pool, "2026-03-09T09");

    // Assess
    const silver = await plainRows(
      db.pool,
      "select temperature_c from silver.observations where site_id = 'alpha' and hour = $1",
      [at(20)],
    );
    expect(silver).toEqual([{ temperature_c: 21.5 }]);
    const gold = await plainRows(
      db.pool,
      "select temperature_c from gold_internal.site_hourly where site_id = 'alpha' and hour = $1",
      [at(20)],
    );
    expect(gold).toEqual([{ temperature_c: 21.5 }]);
  });

  it("a rerun with nothing changed below recomputes nothing", async () => {
    // Act
    const silver = await runTransform(pgOpsPorts(db.pool), { layer: "silver", interval: "2026-03-09T09" });
    const gold = await runTransform(pgOpsPorts(db.pool), { layer: "gold", interval: "2026-03-09T09" });
    // Assess: the fixture's hours were transformed before; nothing is observed in 09
    expect([silver.affectedHours, gold.affectedHours]).toEqual([0, 0]);
  });
});
