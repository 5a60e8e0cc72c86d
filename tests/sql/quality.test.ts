/**
 * Quality checks: every declared check (sql/models/<layer>/*.yml) passes on good data and fails,
 * alone, on data broken for it; error checks block, warn checks are recorded; silver failures block gold.
 */

import { readFileSync } from "node:fs";
import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { PgStatusReader } from "#core/adapters/pg-status-reader.ts";
import { checksMarkdown, declaredChecks } from "#core/sql/checks.ts";
import {
  type CheckReport,
  QualityCheckFailedError,
  runQualityChecks,
} from "#core/use-cases/check-quality.ts";
import { readStatus } from "#core/use-cases/status.ts";
import { runTransform } from "#core/use-cases/transform.ts";
import {
  at,
  type BronzeRow,
  FIXTURE_INTERVAL,
  FIXTURE_RUN,
  insertBronze,
  loadFixture,
  reading,
} from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { checksums, resetDerived, runPipeline } from "./support.ts";

let db: TestDatabase;
// The fixture's newest reading is alpha at 2026-03-09T08:30 (hour 200, 10 °C); the check window of
// FIXTURE_INTERVAL is hours 176..200.
const FRESH_NOW = new Date("2026-03-09T09:00:00Z");
const STALE_NOW = new Date("2026-03-09T10:31:00Z");
const BREAK_OBJECT = "raw/break.json";

async function addSite(pool: pg.Pool, siteId: string): Promise<void> {
  await pool.query(
    `insert into silver.sites (site_id, site_name, latitude, longitude, timezone, country)
     values ($1, $1, 0, 0, 'UTC', 'XX')`,
    [siteId],
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  await loadFixture(db.pool);
  // The fixture's run loads every hour from 0 to 200, so its transform recomputes them all and the
  // checks look back to hour 0 (they cover what the transform recomputed): beta's deliberately
  // implausible hours 0..3 would warn on the good data. Each break below brings its own bad rows.
  await db.pool.query("delete from bronze.weather_observations where site_id = 'beta'");
});
afterAll(async () => {
  await db?.destroy();
});
beforeEach(async () => {
  // Prepare (every test): the fixture transformed, and alpha the only site of the dimension.
  await db.pool.query(
    "delete from bronze.weather_observations where site_id = 'gamma' or raw_object_key = $1",
    [BREAK_OBJECT],
  );
  await db.pool.query("delete from silver.sites");
  await addSite(db.pool, "alpha");
  await resetDerived(db.pool);
  await runPipeline(db.pool, FIXTURE_INTERVAL);
});

/** Alpha readings at hh:30 loaded by the fixture's run, then transformed like the fixture. */
async function ingestAlpha(pool: pg.Pool, hours: number[], over: Partial<BronzeRow>): Promise<void> {
  await insertBronze(
    pool,
    hours.map((h) => reading("alpha", h, 30, { temperature_c: 10, raw_object_key: BREAK_OBJECT, ...over })),
  );
  await runPipeline(pool, FIXTURE_INTERVAL);
}

const ALPHA_200 = `site_id = 'alpha' and hour = '${at(200)}'`;

/**
 * For each declared check: how to break the fixture so that this check, and no other, fails
 * (returning the reference time to check at, when it is not FRESH_NOW).
 */
const BREAKS: Record<string, (pool: pg.Pool) => Promise<unknown>> = {
  // silver, error
  silver__matches_bronze: (pool) =>
    insertBronze(pool, [reading("gamma", 200, 10, { temperature_c: 1, ingestion_run_id: FIXTURE_RUN })]),
  silver__hour_matches_observed_at: (pool) =>
    pool.query(
      `update silver.observations set observed_at = observed_at + interval '2 hours' where ${ALPHA_200}`,
    ),
  // silver keeps a forecast row although a live reading of the same hour is in bronze
  silver__precedence: async (pool) => {
    await insertBronze(pool, [reading("alpha", 200, 0, { kind: "forecast", raw_object_key: BREAK_OBJECT })]);
    await pool.query(
      `update silver.observations set kind = 'forecast', observed_at = hour where ${ALPHA_200}`,
    );
  },
  silver__plausibility_flags: (pool) =>
    pool.query(`update silver.observations set implausible_reason = 'manual' where ${ALPHA_200}`),
  // silver, warn: physically impossible values arrive from a provider (silver flags them)
  silver__observations_temperature_c_range: (pool) => ingestAlpha(pool, [199], { temperature_c: 70 }),
  silver__observations_humidity_pct_range: (pool) => ingestAlpha(pool, [199], { humidity_pct: 120 }),
  silver__observations_precipitation_mm_range: (pool) => ingestAlpha(pool, [199], { precipitation_mm: -1 }),
  silver__observations_wind_speed_ms_range: (pool) => ingestAlpha(pool, [199], { wind_speed_ms: -1 }),
  silver__observations_wind_gust_ms_range: (pool) => ingestAlpha(pool, [199], { wind_gust_ms: -1 }),
  silver__site_in_sites: (pool) => pool.query("delete from silver.sites where site_id = 'alpha'"),
  // 30 °C at hour 199, 10 °C at hour 200
  silver__temperature_jump: (pool) => ingestAlpha(pool, [199], { temperature_c: 30 }),
  // 10 °C at hours 195..199 and 200: six hours the same
  silver__stuck_sensor: (pool) => ingestAlpha(pool, [195, 196, 197, 198, 199], { temperature_c: 10 }),
  // beta is expected but reports nothing at hour 200
  silver__coverage: (pool) => addSite(pool, "beta"),
  // gold, error
  gold__hourly_matches_silver: (pool) =>
    pool.query(
      `update silver.observations set is_plausible = false, implausible_reason = 'manual' where ${ALPHA_200}`,
    ),
  gold__hourly_observed_within_hour: (pool) =>
    pool.query(
      `update gold_internal.site_hourly set observed_at = hour + interval '2 hours' where ${ALPHA_200}`,
    ),
  gold__daily_matches_hourly: (pool) =>
    pool.query(
      "update gold_internal.site_daily set hours_observed = hours_observed + 1 where site_id = 'alpha' and day = '2026-03-09'",
    ),
  gold__daily_min_le_max: (pool) =>
    pool.query(
      "update gold_internal.site_daily set min_temp_c = 99 where site_id = 'alpha' and day = '2026-03-09'",
    ),
  gold__moving_avg_matches_hourly: (pool) =>
    pool.query(`delete from gold_internal.site_temperature_moving_avg where ${ALPHA_200}`),
  gold__moving_avg_samples_bounded: (pool) =>
    pool.query(
      `update gold_internal.site_temperature_moving_avg set samples_24h = 25, samples_7d = 25 where ${ALPHA_200}`,
    ),
  gold__latest_is_newest_hour: (pool) =>
    pool.query(
      "update gold_internal.site_latest_conditions set hour = hour - interval '1 hour' where site_id = 'alpha'",
    ),
  gold__freshness: async () => STALE_NOW,
};

/** Runs every check; returns the report whether or not an error check failed. */
async function checkAll(now: Date): Promise<{ report: CheckReport; threw: boolean }> {
  try {
    return {
      report: await runQualityChecks(pgOpsPorts(db.pool), { interval: FIXTURE_INTERVAL, now }),
      threw: false,
    };
  } catch (e) {
    if (!(e instanceof QualityCheckFailedError)) throw e;
    return { report: e.report, threw: true };
  }
}

const notPassed = (r: CheckReport) => r.checks.filter((c) => !c.passed).map((c) => c.name);

describe("every declared check can fail", () => {
  it("has a break case for each declared check, and none for a check that is not declared", () => {
    expect(Object.keys(BREAKS).sort()).toEqual(declaredChecks().map((c) => c.name));
  });

  it("declares no check twice and at least the weather checks as warnings", () => {
    const warn = declaredChecks()
      .filter((c) => c.severity === "warn")
      .map((c) => c.name);
    expect(warn).toEqual(
      expect.arrayContaining([
        "silver__observations_temperature_c_range",
        "silver__temperature_jump",
        "silver__stuck_sensor",
        "silver__coverage",
      ]),
    );
  });

  for (const check of declaredChecks()) {
    it(`${check.name} (${check.severity}) passes on good data and fails alone on data broken for it`, async () => {
      // Prepare: good data passes every check
      const good = await checkAll(FRESH_NOW);
      expect(notPassed(good.report)).toEqual([]);
      const broken = await BREAKS[check.name]?.(db.pool);
      const now = broken instanceof Date ? broken : FRESH_NOW;
      // Act
      const { report, threw } = await checkAll(now);
      // Assess: this check and only this one, blocking exactly when its severity is error
      expect(notPassed(report)).toEqual([check.name]);
      expect(threw).toBe(check.severity === "error");
      expect(report.failed).toEqual(check.severity === "error" ? [check.name] : []);
      expect(report.warned).toEqual(check.severity === "warn" ? [check.name] : []);
      const { rows } = await db.pool.query(
        `select r.check_name, r.severity, q.status, q.checks_failed, q.checks_warned
         from ops.quality_check_results as r join ops.quality_check_runs as q using (run_id)
         where run_id = $1 and not r.passed`,
        [report.runId],
      );
      expect(rows).toEqual([
        {
          check_name: check.name,
          severity: check.severity,
          status: check.severity === "error" ? "failed" : "passed",
          checks_failed: check.severity === "error" ? 1 : 0,
          checks_warned: check.severity === "warn" ? 1 : 0,
        },
      ]);
    });
  }
});

describe("runQualityChecks", () => {
  it("records every check with its severity on good data", async () => {
    // Act
    const report = await runQualityChecks(pgOpsPorts(db.pool), {
      interval: FIXTURE_INTERVAL,
      now: FRESH_NOW,
    });
    // Assess
    expect(report.passed).toBe(true);
    expect(report.checksTotal).toBe(declaredChecks().length);
    const { rows } = await db.pool.query(
      `select count(*)::int as n, bool_and(passed) as ok, count(*) filter (where severity = 'warn')::int as warn
       from ops.quality_check_results where run_id = $1`,
      [report.runId],
    );
    expect(rows[0]).toEqual({
      n: report.checksTotal,
      ok: true,
      warn: declaredChecks().filter((c) => c.severity === "warn").length,
    });
  });

  it("names the failed check, its rows and what to do next", async () => {
    // Prepare
    await BREAKS.gold__daily_min_le_max?.(db.pool);
    // Act
    const e = await runQualityChecks(pgOpsPorts(db.pool), {
      interval: FIXTURE_INTERVAL,
      layer: "gold",
      now: FRESH_NOW,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    // Assess
    expect(e).toBeInstanceOf(QualityCheckFailedError);
    const { report, message } = e as QualityCheckFailedError;
    expect(message).toContain("gold__daily_min_le_max");
    expect(message).toContain("rerun the interval");
    expect(report.checks.find((c) => !c.passed)?.sample).toEqual([
      { site_id: "alpha", day: "2026-03-09", min_temp_c: 99, mean_temp_c: 10, max_temp_c: 10 },
    ]);
  });

  it("weather status shows the last run's warnings with their severity", async () => {
    // Prepare
    await BREAKS.silver__temperature_jump?.(db.pool);
    await runQualityChecks(pgOpsPorts(db.pool), { interval: FIXTURE_INTERVAL, now: FRESH_NOW });
    // Act
    const status = await readStatus(new PgStatusReader(db.pool), FRESH_NOW);
    // Assess
    expect(status.lastQualityCheck).toMatchObject({
      status: "passed",
      checksFailed: 0,
      checksWarned: 1,
      problems: [{ name: "silver__temperature_jump", severity: "warn", failingRows: 1 }],
    });
  });
});

describe("silver checks block gold", () => {
  it("a silver check failure fails the silver gate (SilverChecks) and leaves the data untouched", async () => {
    // Prepare: bronze gains a row silver has not seen (silver__matches_bronze fails). The workflow's
    // SilverChecks state runs exactly this before Gold (tests/integration/workflow.test.ts shows it
    // stopping the execution); the Gold transform itself no longer checks.
    await BREAKS.silver__matches_bronze?.(db.pool);
    const before = await checksums(db.pool);
    // Act
    const e = await runQualityChecks(pgOpsPorts(db.pool), {
      interval: FIXTURE_INTERVAL,
      layer: "silver",
      now: FRESH_NOW,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    // Assess
    expect(e).toBeInstanceOf(QualityCheckFailedError);
    const { report } = e as QualityCheckFailedError;
    expect(report.layers).toEqual(["silver"]);
    expect(report.failed).toEqual(["silver__matches_bronze"]);
    expect(report.checks.find((c) => !c.passed && c.severity === "error")?.sample).toEqual([
      { site_id: "gamma", source: "open-meteo", hour: at(200), bronze_rows: 1, silver_rows: 0 },
    ]);
    expect(await checksums(db.pool)).toEqual(before);
  });

  it("a silver warning does not block gold", async () => {
    // Prepare: a stuck sensor (warn) in silver
    await BREAKS.silver__stuck_sensor?.(db.pool);
    // Act
    const gold = await runTransform(pgOpsPorts(db.pool), { layer: "gold", interval: FIXTURE_INTERVAL });
    // Assess
    expect(gold.relations.length).toBeGreaterThan(0);
  });

  it("once silver catches up, gold runs and includes the new row", async () => {
    // Prepare
    await BREAKS.silver__matches_bronze?.(db.pool);
    // Act
    await runPipeline(db.pool, FIXTURE_INTERVAL);
    // Assess
    const { rows } = await db.pool.query(
      "select temperature_c from gold.v_latest_conditions where site_id = 'gamma'",
    );
    expect(rows).toEqual([{ temperature_c: 1 }]);
  });
});

describe("docs/data-model.md", () => {
  it("lists every declared check and threshold, as generated from the declarations", () => {
    const doc = readFileSync(new URL("../../docs/data-model.md", import.meta.url), "utf8");
    const table = doc.match(/<!-- checks:begin -->\n([\s\S]*?)\n<!-- checks:end -->/)?.[1];
    expect(table).toBe(checksMarkdown());
  });
});
