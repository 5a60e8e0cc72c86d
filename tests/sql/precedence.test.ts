/**
 * Provenance and precedence (issue 12): bronze keeps a live reading and history values of the same
 * hour as separate rows (kind); silver keeps one per (site, source, hour) — current > archive >
 * forecast, then the latest observed_at — whatever the order they arrive in, and gold never counts
 * an hour twice.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { runQualityChecks } from "#core/use-cases/check-quality.ts";
import {
  at,
  type BronzeRow,
  insertBronze,
  insertIngestionRun,
  reading,
} from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { plainRows, resetDerived, runPipeline, snapshot } from "./support.ts";

let db: TestDatabase;
let arrivals = 0;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.destroy();
});
beforeEach(async () => {
  await db.pool.query("truncate bronze.weather_observations, ops.ingestion_runs cascade");
  await resetDerived(db.pool);
});

/** Loads `rows` as one ingestion run filed under hour 10, then runs the workflow's steps for it. */
async function arrive(rows: BronzeRow[]): Promise<void> {
  arrivals += 1;
  const runId = `run-arrival-${arrivals}`;
  await insertIngestionRun(db.pool, runId, "2026-03-01T10");
  await insertBronze(
    db.pool,
    rows.map((r) => ({ ...r, ingestion_run_id: runId })),
    new Date(Date.parse("2026-03-01T11:00:00Z") + arrivals * 60_000),
  );
  await runPipeline(db.pool, "2026-03-01T10");
}

const live = (minutes: number, temperature: number) =>
  reading("alpha", 10, minutes, { kind: "current", temperature_c: temperature });
const forecast = (temperature: number) =>
  reading("alpha", 10, 0, { kind: "forecast", temperature_c: temperature, precipitation_window_minutes: 60 });
const archive = (temperature: number) =>
  reading("alpha", 10, 0, { kind: "archive", temperature_c: temperature, precipitation_window_minutes: 60 });

async function silverHour(): Promise<Record<string, unknown>[]> {
  return plainRows(
    db.pool,
    `select source, kind, observed_at, temperature_c, observations_in_hour from silver.observations
     where site_id = 'alpha' and hour = $1 order by source`,
    [at(10)],
  );
}

async function goldHour(): Promise<Record<string, unknown>[]> {
  return plainRows(
    db.pool,
    `select h.temperature_c, h.source_count, h.sources, h.kinds, d.hours_observed, d.observation_count
     from gold.v_site_hourly as h join gold.v_site_daily as d on d.site_id = h.site_id and d.day = h.day
     where h.site_id = 'alpha' and h.hour = $1`,
    [at(10)],
  );
}

describe("silver precedence", () => {
  it("a forecast row and a live row of the same hour: one silver row, the live one, counted once in gold", async () => {
    // Prepare: the forecast API's value for the hour is transformed first
    await arrive([forecast(5)]);
    expect(await silverHour()).toEqual([
      {
        source: "open-meteo",
        kind: "forecast",
        observed_at: at(10),
        temperature_c: 5,
        observations_in_hour: 1,
      },
    ]);
    // Act: the live readings of the hour arrive
    await arrive([live(15, 7), live(45, 8)]);
    // Assess: the latest live reading wins; gold has one hour from one source
    expect(await silverHour()).toEqual([
      {
        source: "open-meteo",
        kind: "current",
        observed_at: at(10, 45),
        temperature_c: 8,
        observations_in_hour: 2,
      },
    ]);
    expect(await goldHour()).toEqual([
      {
        temperature_c: 8,
        source_count: 1,
        sources: "open-meteo",
        kinds: "current",
        hours_observed: 1,
        observation_count: 1,
      },
    ]);
  });

  it("history arriving after the live row changes nothing in silver or gold", async () => {
    // Prepare
    await arrive([live(30, 7)]);
    const silver = await snapshot(db.pool, "silver.observations");
    const gold = await snapshot(db.pool, "gold_internal.site_hourly");
    // Act: a forecast, then an archive value of the same hour, even of the same instant as the reading
    await arrive([forecast(5)]);
    await arrive([archive(6), reading("alpha", 10, 30, { kind: "archive", temperature_c: 6.5 })]);
    // Assess: bronze holds all four, silver and gold are byte-identical
    const { rows } = await db.pool.query(
      "select kind, count(*)::int as n from bronze.weather_observations group by kind order by kind",
    );
    expect(rows).toEqual([
      { kind: "archive", n: 2 },
      { kind: "current", n: 1 },
      { kind: "forecast", n: 1 },
    ]);
    expect(await snapshot(db.pool, "silver.observations")).toEqual(silver);
    expect(await snapshot(db.pool, "gold_internal.site_hourly")).toEqual(gold);
  });

  it("an archive value arriving after the forecast replaces it", async () => {
    // Prepare
    await arrive([forecast(5)]);
    // Act
    await arrive([archive(6)]);
    // Assess
    expect(await silverHour()).toEqual([
      {
        source: "open-meteo",
        kind: "archive",
        observed_at: at(10),
        temperature_c: 6,
        observations_in_hour: 1,
      },
    ]);
    expect(await goldHour()).toEqual([
      {
        temperature_c: 6,
        source_count: 1,
        sources: "open-meteo",
        kinds: "archive",
        hours_observed: 1,
        observation_count: 1,
      },
    ]);
    // ...and a revised forecast arriving later (an upsert of its row) does not take the hour back
    await db.pool.query(
      `update bronze.weather_observations set temperature_c = 4, payload = '{"revision": 2}', change_xid = default
       where kind = 'forecast'`,
    );
    await runPipeline(db.pool, "2026-03-01T10");
    expect((await silverHour())[0]).toMatchObject({ kind: "archive", temperature_c: 6 });
  });

  it("gold combines sources, not kinds: a live source and a history source of one hour are two sources", async () => {
    // Act: openweather live, open-meteo archive and forecast
    await arrive([
      archive(6),
      forecast(5),
      reading("alpha", 10, 20, { source: "openweather", temperature_c: 8, precipitation_window_minutes: 60 }),
    ]);
    // Assess
    expect(await silverHour()).toEqual([
      {
        source: "open-meteo",
        kind: "archive",
        observed_at: at(10),
        temperature_c: 6,
        observations_in_hour: 1,
      },
      {
        source: "openweather",
        kind: "current",
        observed_at: at(10, 20),
        temperature_c: 8,
        observations_in_hour: 1,
      },
    ]);
    expect(await goldHour()).toEqual([
      {
        temperature_c: 7,
        source_count: 2,
        sources: "open-meteo,openweather",
        kinds: "archive,current",
        hours_observed: 1,
        observation_count: 2,
      },
    ]);
  });

  it("the precedence check passes on what the model keeps", async () => {
    // Prepare
    await arrive([forecast(5), archive(6), live(10, 7), live(50, 9)]);
    await db.pool.query(
      "insert into silver.sites values ('alpha', 'alpha', 0, 0, 'UTC', 'XX') on conflict do nothing",
    );
    // Act
    const report = await runQualityChecks(pgOpsPorts(db.pool), {
      interval: "2026-03-01T10",
      layer: "silver",
      now: new Date(at(11)),
    });
    // Assess
    expect(report.checks.find((c) => c.name === "silver__precedence")).toMatchObject({ passed: true });
    expect((await silverHour())[0]).toMatchObject({
      kind: "current",
      temperature_c: 9,
      observations_in_hour: 2,
    });
  });
});
