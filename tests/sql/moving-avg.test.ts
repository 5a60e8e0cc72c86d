/**
 * The moving average of an hourly run's new hour comes from the previous hour's stored sums and
 * counts (site_temperature_moving_avg.sql, the recurrent path), and equals what the windows give.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { rebuildAll } from "#core/use-cases/transform.ts";
import {
  at,
  FIXTURE_INTERVAL,
  insertBronze,
  insertIngestionRun,
  loadFixture,
  reading,
} from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { checksums, plainRows, r9, resetToFixture, runPipeline } from "./support.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await loadFixture(db.pool);
});
afterAll(async () => {
  await db?.destroy();
});
beforeEach(async () => {
  // Prepare (every test): the fixture transformed once (alpha: hours 0..25 at h °C, 50 at 50 °C and
  // 200 at 10 °C), then alpha's hours 201..223 at 12 °C in one run.
  await resetToFixture(db.pool, "run-next");
  await runPipeline(db.pool, FIXTURE_INTERVAL);
  await ingest(
    "run-next-1",
    Array.from({ length: 23 }, (_, i) => 201 + i),
    12,
  );
});

/** Alpha's readings for `hours` at `temperature` °C, ingested by one run and transformed as the hourly workflow would. */
async function ingest(runId: string, hours: number[], temperature: number): Promise<void> {
  const interval = at(Math.max(...hours)).slice(0, 13);
  await insertIngestionRun(db.pool, runId, interval);
  await insertBronze(
    db.pool,
    hours.map((h) => reading("alpha", h, 30, { temperature_c: temperature, ingestion_run_id: runId })),
  );
  await runPipeline(db.pool, interval);
}

/** Alpha's new hour 224 (14 °C): the previous hour's row is stored, hour 200 leaves the 24-hour window. */
const newHour = () => ingest("run-next-2", [224], 14);

const movingAvgAt = (hour: number) =>
  plainRows(
    db.pool,
    `select temp_ma_24h_c, temp_ma_7d_c, samples_24h, samples_7d,
       temp_sum_24h_mc::integer as temp_sum_24h_mc, temp_sum_7d_mc::integer as temp_sum_7d_mc
     from gold_internal.site_temperature_moving_avg where site_id = 'alpha' and hour = $1`,
    [at(hour)],
  );

describe("moving average of a new hour", () => {
  it("adds the new hour to the previous hour's sums and drops the hour leaving each window", async () => {
    // Act
    await newHour();
    // Assess: 24 h = hours 201..224 (23 × 12 + 14 = 290 °C·h), 7 d = hours 200..224 (10 + 290)
    expect(await movingAvgAt(224)).toEqual([
      {
        temp_ma_24h_c: r9(290 / 24),
        temp_ma_7d_c: 12,
        samples_24h: 24,
        samples_7d: 25,
        temp_sum_24h_mc: 290000,
        temp_sum_7d_mc: 300000,
      },
    ]);
    // ...and a rebuild from scratch, through the windows, gives every row the same
    const incremental = await checksums(db.pool);
    await rebuildAll(pgOpsPorts(db.pool), { interval: at(224).slice(0, 13) });
    expect(await checksums(db.pool)).toEqual(incremental);
  });

  it("reads the previous hour's stored sums, not the 168 hours", async () => {
    // Prepare: hour 223's 24-hour sum off by 24 °C·h (no run writes this; it shows which path ran)
    await db.pool.query(
      `update gold_internal.site_temperature_moving_avg set temp_sum_24h_mc = temp_sum_24h_mc + 24000
       where site_id = 'alpha' and hour = $1`,
      [at(223)],
    );
    // Act
    await newHour();
    // Assess: the offset carried over (the windows would give 290 / 24)
    expect(await movingAvgAt(224)).toMatchObject([{ temp_ma_24h_c: r9(314 / 24), temp_sum_24h_mc: 314000 }]);
  });

  it("reads the windows when the previous row has no sums (written before migration 0092)", async () => {
    // Prepare
    await db.pool.query(
      `update gold_internal.site_temperature_moving_avg set temp_sum_24h_mc = null, temp_sum_7d_mc = null
       where site_id = 'alpha' and hour = $1`,
      [at(223)],
    );
    // Act
    await newHour();
    // Assess
    expect(await movingAvgAt(224)).toMatchObject([
      { temp_ma_24h_c: r9(290 / 24), temp_ma_7d_c: 12, temp_sum_24h_mc: 290000, temp_sum_7d_mc: 300000 },
    ]);
  });
});
