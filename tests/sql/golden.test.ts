/**
 * Golden data: the hand-built fixture (tests/fixtures/golden/bronze.ts) must give exactly these
 * silver and gold rows. Every expected number below is worked out by hand from the fixture.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { getLineage } from "#core/sql/lineage.ts";
import { syncSites } from "#core/sql/sites.ts";
import { rebuildAll } from "#core/use-cases/transform.ts";
import { ALPHA_HOURS, at, FIXTURE_INTERVAL, loadFixture } from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { checksums, plainRows, r9, runPipeline } from "./support.ts";

let db: TestDatabase;

beforeAll(async () => {
  // Prepare: the fixture, transformed by one incremental run for the interval that loaded it.
  db = await createTestDatabase();
  await loadFixture(db.pool);
  await runPipeline(db.pool, FIXTURE_INTERVAL);
});
afterAll(async () => {
  await db?.destroy();
});

/** alpha's temperature at fixture hour h (hour 200 reads 10 °C, every other hour h °C). */
const alphaTemp = (h: number) => (h === 200 ? 10 : h);

describe("silver.observations", () => {
  it("keeps one row per site, source and hour: the latest reading, flagged when implausible", async () => {
    // Act
    const rows = await plainRows(
      db.pool,
      `select site_id, source, hour, observed_at, temperature_c, humidity_pct, precipitation_mm_per_hour,
              observations_in_hour, is_plausible, implausible_reason
       from silver.observations order by site_id, hour, source`,
    );
    // Assess
    const alpha = ALPHA_HOURS.flatMap((h) => {
      const openMeteo = {
        site_id: "alpha",
        source: "open-meteo",
        hour: at(h),
        observed_at: at(h, 30),
        temperature_c: alphaTemp(h),
        humidity_pct: 60,
        // 0.5 mm in 15 minutes = 2 mm/h
        precipitation_mm_per_hour: h === 3 ? 2 : 0,
        // hours 0 and 5 had an earlier reading that the 30-minute one replaces
        observations_in_hour: h === 0 || h === 5 ? 2 : 1,
        is_plausible: true,
        implausible_reason: null,
      };
      if (h !== 3) return [openMeteo];
      const openWeather = {
        ...openMeteo,
        source: "openweather",
        observed_at: at(3, 20),
        temperature_c: 3,
        humidity_pct: 80,
        precipitation_mm_per_hour: 1,
      };
      return [openMeteo, openWeather];
    });
    const beta = (h: number, temperature: number, humidity: number, rate: number, reason: string | null) => ({
      site_id: "beta",
      source: "open-meteo",
      hour: at(h),
      observed_at: at(h, 30),
      temperature_c: temperature,
      humidity_pct: humidity,
      precipitation_mm_per_hour: rate,
      observations_in_hour: 1,
      is_plausible: reason === null,
      implausible_reason: reason,
    });
    expect(rows).toEqual([
      ...alpha,
      beta(0, 75, 60, 0, "temperature_c 75 outside -90..60"),
      beta(1, 5, 120, 0, "humidity_pct 120 outside 0..100"),
      beta(2, 6, 50, 0, null),
      beta(3, 7, 60, -4, "pressure_hpa 860 outside 870..1085; precipitation_mm -1 negative"),
    ]);
  });
});

describe("gold", () => {
  it("site_hourly combines sources and leaves out implausible hours", async () => {
    // Act
    const rows = await plainRows(
      db.pool,
      `select site_id, hour, observed_at, temperature_c, humidity_pct, wind_gust_ms, wind_direction_deg,
              precipitation_mm, condition_code, source_count, sources
       from gold.v_site_hourly order by site_id, hour`,
    );
    // Assess
    const alpha = ALPHA_HOURS.map((h) => ({
      site_id: "alpha",
      hour: at(h),
      observed_at: at(h, 30),
      temperature_c: alphaTemp(h),
      // hour 3: mean of 60 and 80; max gust of 4 and 9; mean rate of 2 and 1 mm/h; direction and
      // condition from the later reading (open-meteo at 03:30)
      humidity_pct: h === 3 ? 70 : 60,
      wind_gust_ms: h === 3 ? 9 : 4,
      wind_direction_deg: 180,
      precipitation_mm: h === 3 ? 1.5 : 0,
      condition_code: "3",
      source_count: h === 3 ? 2 : 1,
      sources: h === 3 ? "open-meteo,openweather" : "open-meteo",
    }));
    const beta = {
      site_id: "beta",
      hour: at(2),
      observed_at: at(2, 30),
      temperature_c: 6,
      humidity_pct: 50,
      wind_gust_ms: 4,
      wind_direction_deg: 180,
      precipitation_mm: 0,
      condition_code: "3",
      source_count: 1,
      sources: "open-meteo",
    };
    expect(rows).toEqual([...alpha, beta]);
  });

  it("site_daily aggregates each UTC day", async () => {
    // Act
    const rows = await plainRows(
      db.pool,
      `select site_id, day::text as day, min_temp_c, max_temp_c, mean_temp_c, precipitation_mm, max_gust_ms,
              mean_humidity_pct, hours_observed, observation_count, last_observed_at
       from gold.v_site_daily order by site_id, day`,
    );
    // Assess
    expect(rows).toEqual([
      // hours 0..23 read 0..23 °C: mean 276 / 24; rain only at hour 3; humidity 23 × 60 + 70
      {
        site_id: "alpha",
        day: "2026-03-01",
        min_temp_c: 0,
        max_temp_c: 23,
        mean_temp_c: 11.5,
        precipitation_mm: 1.5,
        max_gust_ms: 9,
        mean_humidity_pct: r9(1450 / 24),
        hours_observed: 24,
        observation_count: 25,
        last_observed_at: at(23, 30),
      },
      {
        site_id: "alpha",
        day: "2026-03-02",
        min_temp_c: 24,
        max_temp_c: 25,
        mean_temp_c: 24.5,
        precipitation_mm: 0,
        max_gust_ms: 4,
        mean_humidity_pct: 60,
        hours_observed: 2,
        observation_count: 2,
        last_observed_at: at(25, 30),
      },
      {
        site_id: "alpha",
        day: "2026-03-03",
        min_temp_c: 50,
        max_temp_c: 50,
        mean_temp_c: 50,
        precipitation_mm: 0,
        max_gust_ms: 4,
        mean_humidity_pct: 60,
        hours_observed: 1,
        observation_count: 1,
        last_observed_at: at(50, 30),
      },
      {
        site_id: "alpha",
        day: "2026-03-09",
        min_temp_c: 10,
        max_temp_c: 10,
        mean_temp_c: 10,
        precipitation_mm: 0,
        max_gust_ms: 4,
        mean_humidity_pct: 60,
        hours_observed: 1,
        observation_count: 1,
        last_observed_at: at(200, 30),
      },
      {
        site_id: "beta",
        day: "2026-03-01",
        min_temp_c: 6,
        max_temp_c: 6,
        mean_temp_c: 6,
        precipitation_mm: 0,
        max_gust_ms: 4,
        mean_humidity_pct: 50,
        hours_observed: 1,
        observation_count: 1,
        last_observed_at: at(2, 30),
      },
    ]);
  });

  it("moving averages use time windows (24 h, 7 d), not row counts", async () => {
    // Act
    const rows = await plainRows(
      db.pool,
      `select site_id, hour, temperature_c, temp_ma_24h_c, temp_ma_7d_c, samples_24h, samples_7d
       from gold.v_temperature_moving_avg order by site_id, hour`,
    );
    // Assess
    const ma = (h: number, t: number, ma24: number, ma7d: number, n24: number, n7d: number) => ({
      site_id: "alpha",
      hour: at(h),
      temperature_c: t,
      temp_ma_24h_c: r9(ma24),
      temp_ma_7d_c: r9(ma7d),
      samples_24h: n24,
      samples_7d: n7d,
    });
    const expected = [
      // hours 0..23: both windows hold hours 0..h, mean of 0..h = h / 2
      ...Array.from({ length: 24 }, (_, h) => ma(h, h, h / 2, h / 2, h + 1, h + 1)),
      ma(24, 24, (1 + 24) / 2, 24 / 2, 24, 25), // 24 h: hours 1..24; 7 d: 0..24
      ma(25, 25, (2 + 25) / 2, 25 / 2, 24, 26), // 24 h: hours 2..25; 7 d: 0..25
      // hour 50: 24 h window (27..50] holds only itself; 7 d holds 0..25 (sum 325) and 50
      ma(50, 50, 50, (325 + 50) / 27, 1, 27),
      // hour 200: 24 h holds only itself; 7 d window 33..200 holds hours 50 and 200
      ma(200, 10, 10, (50 + 10) / 2, 1, 2),
      {
        site_id: "beta",
        hour: at(2),
        temperature_c: 6,
        temp_ma_24h_c: 6,
        temp_ma_7d_c: 6,
        samples_24h: 1,
        samples_7d: 1,
      },
    ];
    expect(rows).toEqual(expected);
  });

  it("site_latest_conditions holds each site's newest plausible hour", async () => {
    // Act
    const rows = await plainRows(
      db.pool,
      `select site_id, hour, observed_at, temperature_c, temp_ma_24h_c, sources
       from gold.v_latest_conditions order by site_id`,
    );
    // Assess
    expect(rows).toEqual([
      {
        site_id: "alpha",
        hour: at(200),
        observed_at: at(200, 30),
        temperature_c: 10,
        temp_ma_24h_c: 10,
        sources: "open-meteo",
      },
      {
        site_id: "beta",
        hour: at(2),
        observed_at: at(2, 30),
        temperature_c: 6,
        temp_ma_24h_c: 6,
        sources: "open-meteo",
      },
    ]);
  });

  it("pipeline views report the runs and the lineage from raw keys to hours", async () => {
    // Act
    const runs = await plainRows(
      db.pool,
      `select component, status, interval from gold.v_pipeline_runs where kind = 'transform' order by component`,
    );
    const lineage = await plainRows(
      db.pool,
      `select layer, ingestion_run_ids, cardinality(raw_object_keys) as raw_keys, cardinality(affected_hours) as hours
       from ops.transform_runs order by run_id`,
    );
    const health = await plainRows(
      db.pool,
      "select component, last_status from gold.v_pipeline_health order by 1",
    );
    // Assess: 28 alpha hours (beta's 4 are among them); one raw key per alpha hour plus openweather's
    expect(runs).toEqual([
      { component: "transform:gold", status: "succeeded", interval: FIXTURE_INTERVAL },
      { component: "transform:silver", status: "succeeded", interval: FIXTURE_INTERVAL },
    ]);
    expect(lineage).toEqual([
      { layer: "silver", ingestion_run_ids: ["run-fixture", "run-fixture-owm"], raw_keys: 29, hours: 28 },
      { layer: "gold", ingestion_run_ids: ["run-fixture", "run-fixture-owm"], raw_keys: 29, hours: 28 },
    ]);
    expect(health).toContainEqual({ component: "transform:gold", last_status: "succeeded" });
  });

  it("a full rebuild gives the same rows as the incremental run", async () => {
    // Prepare
    const incremental = await checksums(db.pool);
    // Act
    const result = await rebuildAll(pgOpsPorts(db.pool), { interval: FIXTURE_INTERVAL });
    // Assess
    expect(await checksums(db.pool)).toEqual(incremental);
    expect(result.silver.mode).toBe("full");
    expect(result.gold.relations.find((r) => r.relation === "gold_internal.site_hourly")?.inserted).toBe(29);
  });

  it("the site dimension adds names and coordinates to the latest-conditions view", async () => {
    // Prepare
    const alpha = {
      id: "alpha",
      name: "Alpha",
      lat: 59.9,
      lon: 10.75,
      timezone: "Europe/Oslo",
      country: "NO",
    };
    // Act
    await syncSites(db.pool, [alpha]);
    await syncSites(db.pool, [{ ...alpha, name: "Alpha Town" }]);
    // Assess
    const rows = await plainRows(
      db.pool,
      "select site_id, site_name, country, latitude, longitude from gold.v_latest_conditions order by site_id",
    );
    expect(rows).toEqual([
      { site_id: "alpha", site_name: "Alpha Town", country: "NO", latitude: 59.9, longitude: 10.75 },
      { site_id: "beta", site_name: null, country: null, latitude: null, longitude: null },
    ]);
  });

  it("getLineage follows raw keys to ingestion runs to the hours each layer recomputed", async () => {
    // Act
    const lineage = await getLineage(db.pool, FIXTURE_INTERVAL);
    // Assess
    expect(lineage.ingestionRuns.map((r) => [r.runId, r.bronzeRows])).toEqual([
      ["run-fixture", 34], // alpha: 28 hours + 2 earlier readings; beta: 4
      ["run-fixture-owm", 1],
    ]);
    const incremental = lineage.transformRuns.filter((r) => r.mode === "incremental");
    expect(incremental.map((r) => [r.layer, r.status, r.affectedHours.length])).toEqual([
      ["silver", "succeeded", 28],
      ["gold", "succeeded", 28],
    ]);
    expect(incremental[0]?.rawObjectKeys).toContain("raw/openweather/alpha-03.json");
    expect(lineage.qualityCheckRuns[0]).toMatchObject({ layers: ["silver"], status: "passed", failed: [] });
  });
});
