/**
 * Incremental behaviour: late rows change only what depends on them, reruns are idempotent, and
 * concurrent runs for one interval equal one run.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { runTransform } from "#core/use-cases/transform.ts";
import {
  at,
  FIXTURE_INTERVAL,
  insertBronze,
  insertIngestionRun,
  loadFixture,
  reading,
} from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import {
  changedKeys,
  checksums,
  plainRows,
  r9,
  resetDerived,
  resetToFixture,
  runPipeline,
  SILVER_AND_GOLD,
  snapshot,
} from "./support.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await loadFixture(db.pool);
});
afterAll(async () => {
  await db?.destroy();
});
beforeEach(async () => {
  // Prepare (every test): the fixture transformed once, from empty silver and gold.
  await resetToFixture(db.pool, "run-late");
  await runPipeline(db.pool, FIXTURE_INTERVAL);
});

const hourKey = (site: string, h: number, source?: string) =>
  `${site}/${new Date(at(h)).toISOString().replace("T", " ").replace(".000Z", "+00")}${source ? `/${source}` : ""}`;

describe("incremental transform", () => {
  it("a late row for an old hour changes that hour's gold and its dependants, nothing else", async () => {
    // Prepare: a reading for alpha at 2026-03-01T10:50 (10 days old), 40 °C, loaded by a later run
    const before = new Map<string, Map<string, string>>();
    for (const t of SILVER_AND_GOLD) before.set(t, await snapshot(db.pool, t));
    const lateInterval = "2026-03-09T09";
    await insertIngestionRun(db.pool, "run-late", lateInterval);
    await insertBronze(db.pool, [
      reading("alpha", 10, 50, { temperature_c: 40, ingestion_run_id: "run-late" }),
    ]);

    // Act
    await runPipeline(db.pool, lateInterval);

    // Assess: which keys changed, per relation
    const changed: Record<string, string[]> = {};
    for (const t of SILVER_AND_GOLD) {
      changed[t] = changedKeys(before.get(t) as Map<string, string>, await snapshot(db.pool, t));
    }
    expect(changed).toEqual({
      "silver.observations": [hourKey("alpha", 10, "open-meteo")],
      "gold_internal.site_hourly": [hourKey("alpha", 10)],
      "gold_internal.site_daily": ["alpha/2026-03-01"],
      // hours 10..25 have hour 10 in their 24 h and 7 d windows; hour 50 in its 7 d window only;
      // hour 200's 7 d window starts at hour 33
      "gold_internal.site_temperature_moving_avg": [...Array.from({ length: 16 }, (_, i) => 10 + i), 50]
        .map((h) => hourKey("alpha", h))
        .sort(),
      "gold_internal.site_latest_conditions": [],
    });
    // ...and to the hand-computed values: hour 10 now reads 40 instead of 10 (+30)
    const daily = await plainRows(
      db.pool,
      "select max_temp_c, mean_temp_c from gold_internal.site_daily where site_id = 'alpha' and day = '2026-03-01'",
    );
    expect(daily).toEqual([{ max_temp_c: 40, mean_temp_c: r9((276 + 30) / 24) }]);
    const ma = await plainRows(
      db.pool,
      `select hour, temp_ma_24h_c, temp_ma_7d_c from gold_internal.site_temperature_moving_avg
       where site_id = 'alpha' and hour in ('${at(10)}', '${at(50)}') order by hour`,
    );
    expect(ma).toEqual([
      { hour: at(10), temp_ma_24h_c: r9((55 + 30) / 11), temp_ma_7d_c: r9((55 + 30) / 11) },
      { hour: at(50), temp_ma_24h_c: 50, temp_ma_7d_c: r9((375 + 30) / 27) },
    ]);
  });

  it("the late run's lineage names its ingestion run and the hours it recomputed", async () => {
    // Prepare
    await insertIngestionRun(db.pool, "run-late-2", "2026-03-09T10");
    await insertBronze(db.pool, [
      reading("alpha", 10, 55, { ingestion_run_id: "run-late-2", raw_object_key: "raw/late.json" }),
    ]);
    // Act
    const silver = await runTransform(pgOpsPorts(db.pool), { layer: "silver", interval: "2026-03-09T10" });
    // Assess: hour 10 (the late row) only: the scope is what changed since silver's last run, with
    // no fixed lookback
    expect(silver.affectedHours).toBe(1);
    const [row] = await plainRows(
      db.pool,
      `select affected_hours::text[] as hours, raw_object_keys, ingestion_run_ids, status
       from ops.transform_runs where run_id = ${silver.runId}`,
    );
    expect(row).toEqual({
      hours: ["2026-03-01 10:00:00+00"],
      // every bronze row of a recomputed hour is read, so hour 10's original raw object too
      raw_object_keys: ["raw/late.json", "raw/open-meteo/2026-03-01T10.json"],
      ingestion_run_ids: ["run-fixture", "run-late-2"],
      status: "succeeded",
    });
  });

  it("rerunning an interval three times leaves identical tables", async () => {
    for (const interval of [FIXTURE_INTERVAL, "2026-03-01T12"]) {
      // Prepare
      await runPipeline(db.pool, interval);
      const once = await checksums(db.pool);
      // Act
      await runPipeline(db.pool, interval);
      await runPipeline(db.pool, interval);
      // Assess
      expect(await checksums(db.pool)).toEqual(once);
    }
  });

  it("a window-only run (no ingestion run for the interval) recomputes the lookback hours", async () => {
    // Prepare: hours 9..12 of day one exist; nothing was ingested for 2026-03-01T12
    // Act
    const gold = await runTransform(pgOpsPorts(db.pool), {
      layer: "gold",
      interval: "2026-03-01T12",
      lookbackHours: 3,
    });
    // Assess: alpha hours 9..12 rewritten, with the moving averages of the hours in 9..(12 + 167):
    // 9..25 and 50 (18 rows)
    expect(gold.affectedHours).toBe(4);
    expect(gold.relations).toEqual([
      { relation: "gold_internal.site_hourly", deleted: 4, inserted: 4 },
      { relation: "gold_internal.site_daily", deleted: 1, inserted: 1 },
      { relation: "gold_internal.site_temperature_moving_avg", deleted: 18, inserted: 18 },
      { relation: "gold_internal.site_latest_conditions", deleted: 1, inserted: 1 },
    ]);
  });

  it("two concurrent runs for one interval leave the same tables as one run", async () => {
    // Prepare: the state after one run, then empty derived layers
    const one = await checksums(db.pool);
    await resetDerived(db.pool);
    // Act
    await Promise.all([runPipeline(db.pool, FIXTURE_INTERVAL), runPipeline(db.pool, FIXTURE_INTERVAL)]);
    // Assess
    expect(await checksums(db.pool)).toEqual(one);
    const { rows } = await db.pool.query("select layer, status from ops.transform_runs order by run_id");
    expect(rows.filter((r) => r.status === "succeeded")).toHaveLength(4);
  });
});
