/** Quality checks: they pass on good data, fail on stale or broken data, and silver failures block gold. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { QualityCheckFailedError, runQualityChecks } from "#core/use-cases/check-quality.ts";
import { runTransform } from "#core/use-cases/transform.ts";
import {
  at,
  FIXTURE_INTERVAL,
  FIXTURE_RUN,
  insertBronze,
  loadFixture,
  reading,
} from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { checksums, resetDerived, runPipeline } from "./support.ts";

let db: TestDatabase;
// The fixture's newest reading is alpha at 2026-03-09T08:30.
const FRESH_NOW = new Date("2026-03-09T09:00:00Z");
const STALE_NOW = new Date("2026-03-09T10:31:00Z");

beforeAll(async () => {
  db = await createTestDatabase();
  await loadFixture(db.pool);
});
afterAll(async () => {
  await db?.destroy();
});
beforeEach(async () => {
  await db.pool.query("delete from bronze.weather_observations where site_id = 'gamma'");
  await resetDerived(db.pool);
  await runPipeline(db.pool, FIXTURE_INTERVAL);
});

async function failure(p: Promise<unknown>): Promise<QualityCheckFailedError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(QualityCheckFailedError);
  return e as QualityCheckFailedError;
}

describe("runQualityChecks", () => {
  it("passes every check on the golden data and records the results", async () => {
    // Act
    const report = await runQualityChecks({ pool: db.pool }, { interval: FIXTURE_INTERVAL, now: FRESH_NOW });
    // Assess
    expect(report.passed).toBe(true);
    expect(report.checksTotal).toBeGreaterThanOrEqual(20);
    const { rows } = await db.pool.query(
      "select count(*) as n, bool_and(passed) as ok from ops.quality_check_results where run_id = $1",
      [report.runId],
    );
    expect(rows[0]).toEqual({ n: report.checksTotal, ok: true });
  });

  it("fails the freshness check on a stale dataset", async () => {
    // Act
    const e = await failure(
      runQualityChecks({ pool: db.pool }, { interval: FIXTURE_INTERVAL, now: STALE_NOW }),
    );
    // Assess
    expect(e.name).toBe("QualityCheckFailedError");
    expect(e.report.failed).toEqual(["gold__freshness"]);
    expect(e.message).toContain("gold__freshness");
    const { rows } = await db.pool.query(
      "select status, checks_failed from ops.quality_check_runs where run_id = $1",
      [e.report.runId],
    );
    expect(rows[0]).toEqual({ status: "failed", checks_failed: 1 });
  });

  it("fails a gold invariant when a daily minimum exceeds the maximum", async () => {
    // Prepare
    await db.pool.query("update gold_internal.site_daily set min_temp_c = 99 where day = '2026-03-09'");
    // Act
    const e = await failure(
      runQualityChecks({ pool: db.pool }, { interval: FIXTURE_INTERVAL, layer: "gold", now: FRESH_NOW }),
    );
    // Assess
    expect(e.report.failed).toEqual(["gold__daily_min_le_max"]);
    expect(e.report.checks.find((c) => !c.passed)?.sample).toEqual([
      { site_id: "alpha", day: "2026-03-09", min_temp_c: 99, mean_temp_c: 10, max_temp_c: 10 },
    ]);
  });
});

describe("silver checks block gold", () => {
  it("a silver check failure stops gold and leaves it untouched", async () => {
    // Prepare: bronze gains a row silver has not seen (silver__matches_bronze fails)
    await insertBronze(db.pool, [
      reading("gamma", 200, 10, { temperature_c: 1, ingestion_run_id: FIXTURE_RUN }),
    ]);
    const before = await checksums(db.pool);
    // Act
    const e = await failure(runTransform({ pool: db.pool }, { layer: "gold", interval: FIXTURE_INTERVAL }));
    // Assess
    expect(e.report.failed).toEqual(["silver__matches_bronze"]);
    expect(e.report.checks.find((c) => !c.passed)?.sample).toEqual([
      { site_id: "gamma", source: "open-meteo", hour: at(200), bronze_rows: 1, silver_rows: 0 },
    ]);
    expect(await checksums(db.pool)).toEqual(before);
    const { rows } = await db.pool.query(
      "select status, error from ops.transform_runs where layer = 'gold' order by run_id desc limit 1",
    );
    expect(rows[0].status).toBe("failed");
    expect(rows[0].error).toMatch(/^QualityCheckFailedError: /);
  });

  it("once silver catches up, gold runs and includes the new row", async () => {
    // Prepare
    await insertBronze(db.pool, [
      reading("gamma", 200, 10, { temperature_c: 1, ingestion_run_id: FIXTURE_RUN }),
    ]);
    // Act
    await runPipeline(db.pool, FIXTURE_INTERVAL);
    // Assess
    const { rows } = await db.pool.query(
      "select temperature_c from gold.v_latest_conditions where site_id = 'gamma'",
    );
    expect(rows).toEqual([{ temperature_c: 1 }]);
    await expect(
      runQualityChecks({ pool: db.pool }, { interval: FIXTURE_INTERVAL, now: FRESH_NOW }),
    ).resolves.toMatchObject({ passed: true });
  });
});
