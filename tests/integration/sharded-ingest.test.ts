/**
 * The workflow's ingest phase on the embedded engine, with the real task functions, the simulator and
 * the test database: several shards for one hour into one run, and a failed shard isolated — the
 * others land, its sites count as failed in the run's ratio, the transforms still run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { PgOpsLedger } from "#core/adapters/pg-ops-ledger.ts";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import { loadSites } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { createProvider } from "#core/providers/index.ts";
import type { ShardItem, ShardReport } from "#core/use-cases/shards.ts";
import { localTasks, runEmbeddedWorkflow } from "#core/workflow/embedded-engine.ts";
import {
  type IngestTaskDeps,
  ingestShardTask,
  localIngestTasks,
  planIngestTask,
} from "#core/workflow/ingest-tasks.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let db: TestDatabase;
let rawDir: string;
let sim: Simulator;
let now = new Date();

beforeAll(async () => {
  db = await createTestDatabase();
  rawDir = await mkdtemp(join(tmpdir(), "wdo-shards-"));
  sim = await startSimulator({ clock: () => now });
});
afterAll(async () => {
  await sim?.close();
  await db?.destroy();
  await rm(rawDir, { recursive: true, force: true });
});

async function ingestDeps(): Promise<IngestTaskDeps> {
  const config = loadConfig({ OPEN_METEO_BASE_URL: sim.url }, {});
  const sites = await loadSites("config/sites.json");
  return {
    rawStore: fsRawStore(rawDir),
    bronze: pgBronzeRepository(db.pool),
    log: memoryLog(),
    source: "open-meteo",
    ingest: async () => ({
      provider: createProvider(config, "open-meteo"),
      policy: { timeoutMs: 2000, maxAttempts: 2, backoffBaseMs: 5, backoffMaxMs: 10 },
    }),
    sites: async () => sites,
    shardSize: 5,
    concurrency: 2,
    failureThreshold: 0.1,
    clockToleranceMinutes: 60,
    objects: { bucket: "", prefix: "" },
  };
}

async function runHour(interval: Interval, failShard?: number) {
  now = intervalStart(interval);
  const deps = await ingestDeps();
  const ingest = localIngestTasks(deps);
  const shardsRun: number[] = [];
  const tasks = localTasks(
    { pool: db.pool, log: memoryLog() },
    {
      ...ingest,
      IngestShard: async (input) => {
        const shard = (input as { item: { shard: number } }).item.shard;
        shardsRun.push(shard);
        if (shard === failShard)
          throw Object.assign(new Error(`shard ${shard} lost its connection`), { name: "ECONNRESET" });
        return ingest.IngestShard(input);
      },
    },
  );
  const result = await runEmbeddedWorkflow(
    { ledger: new PgOpsLedger(db.pool), log: memoryLog(), tasks },
    { interval, ingest: true },
    { retryIntervalMs: 0, shardConcurrency: 2 },
  );
  const run = await db.pool.query(
    `select status, sites_total, sites_ok, sites_failed, error, raw_object_keys from ops.ingestion_runs
     where interval = $1`,
    [interval],
  );
  const bronze = await db.pool.query(
    "select count(*)::int as n from bronze.weather_observations where observed_at >= $1 and observed_at < $1::timestamptz + interval '1 hour'",
    [intervalStart(interval)],
  );
  return { result, runs: run.rows, bronzeRows: bronze.rows[0].n as number, shardsRun };
}

describe("sharded ingest on the embedded engine", () => {
  it("a shard invocation takes a whole manifest item, as the Distributed Map's ItemReader passes it", async () => {
    const interval = parseInterval("2026-11-22T15");
    now = intervalStart(interval);
    const deps = await ingestDeps();
    const plan = await planIngestTask(deps, { action: "plan", interval });
    const items = JSON.parse(await deps.rawStore.get(plan.manifestKey)) as ShardItem[];
    expect(items.map((i) => i.sites.length)).toEqual([5, 5, 5, 5, 2]);
    // Through JSON, as the Lambda receives it.
    const event = JSON.parse(JSON.stringify({ action: "shard", item: items[4], retryCount: 0 }));
    const { report } = await ingestShardTask(deps, event);
    expect(report).toMatchObject({ shard: 5, status: "succeeded", sitesOk: 2, sitesFailed: 0 });
    // A malformed item names the field.
    await expect(
      ingestShardTask(deps, { action: "shard", item: { ...items[0], sites: [{ id: "x" }] } }),
    ).rejects.toThrow(/Invalid event/);
  });

  it("refuses a shard whose hour has no run open (no plan ran), and an engine without ingest tasks", async () => {
    const interval = parseInterval("2026-11-22T16");
    now = intervalStart(interval);
    const deps = await ingestDeps();
    const item = {
      interval,
      source: "open-meteo",
      shard: 1,
      shards: 1,
      concurrency: 1,
      sites: (await deps.sites()).slice(0, 2),
    };
    await expect(ingestShardTask(deps, { action: "shard", item })).rejects.toThrow(/is not running/);
    const result = await runEmbeddedWorkflow(
      {
        ledger: new PgOpsLedger(db.pool),
        log: memoryLog(),
        tasks: localTasks({ pool: db.pool, log: memoryLog() }),
      },
      { interval, ingest: true },
      { retryIntervalMs: 0 },
    );
    expect(result).toMatchObject({ status: "failed", failedState: "PlanIngest", error: "ConfigError" });
  });

  it("runs one ingest invocation per shard into one run, then the transforms", async () => {
    const { result, runs, bronzeRows, shardsRun } = await runHour(parseInterval("2026-11-22T13"));
    expect(result.status).toBe("succeeded");
    // 22 sites in shards of 5: 5 shards, each invoked once.
    expect(shardsRun.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: "succeeded", sites_total: 22, sites_ok: 22, sites_failed: 0 });
    // Each shard's objects sit under its own token.
    const tokens = new Set(
      (runs[0].raw_object_keys as string[]).map((k) => /run=[^/]*-shard-(\d{4})-of-0005\//.exec(k)?.[1]),
    );
    expect([...tokens].sort()).toEqual(["0001", "0002", "0003", "0004", "0005"]);
    expect(bronzeRows).toBe(22);
    const output = result.output as { shards: ShardReport[]; ingestion: { siteFailureRatio: number } };
    expect(output.shards.map((s) => s.status)).toEqual(Array(5).fill("succeeded"));
    expect(output.ingestion.siteFailureRatio).toBe(0);
    const silver = await db.pool.query("select count(*)::int as n from silver.observations where hour = $1", [
      intervalStart(parseInterval("2026-11-22T13")),
    ]);
    expect(silver.rows[0].n).toBe(22);
  });

  it("isolates a failed shard: the others land, its sites count as failed in the ratio", async () => {
    const interval = parseInterval("2026-11-22T14");
    const { result, runs, bronzeRows, shardsRun } = await runHour(interval, 3);
    // Shard 3 was tried three times (two retries), then caught; the rest ran once.
    expect(shardsRun.filter((s) => s === 3)).toHaveLength(3);
    expect(bronzeRows).toBe(17);
    expect(runs[0]).toMatchObject({ status: "failed", sites_total: 22, sites_ok: 17, sites_failed: 5 });
    expect(runs[0].error).toMatch(
      /1 of 5 shards failed: shard 3: ECONNRESET \(shard 3 lost its connection\)/,
    );
    const reasons = await db.pool.query(
      "select distinct reason from ops.ingestion_site_results where run_id = $1 and status = 'failed'",
      [`open-meteo:${interval}`],
    );
    expect(reasons.rows).toEqual([{ reason: "not fetched: shard 3 of 5 did not report" }]);
    const output = result.output as {
      shards: ShardReport[];
      ingestion: { siteFailureRatio: number; failedShards: number[] };
    };
    expect(output.ingestion.siteFailureRatio).toBeCloseTo(5 / 22, 6);
    expect(output.ingestion.failedShards).toEqual([3]);
    // The hour's 17 sites still reach silver: a failed shard does not stop the workflow.
    expect(result.status).toBe("succeeded");
    const silver = await db.pool.query("select count(*)::int as n from silver.observations where hour = $1", [
      intervalStart(interval),
    ]);
    expect(silver.rows[0].n).toBe(17);
  });
});
