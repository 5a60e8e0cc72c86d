/**
 * bench:scale — 100,000 sites for one hour through the simulator (its own process) and the sharded
 * workflow (workflows/pipeline.asl.json: PlanIngest → the Map over the manifest → CompleteIngestion →
 * the transforms) on the embedded engine, against the machine's Postgres, with 1, 2 and 4 shards in
 * flight.
 *
 *   npm run bench:scale [-- --sites 100000 --shard-size 12500 --latency 50 --per-shard 1 --limit 4000]
 *
 * Each shard is one ingest invocation with its own weighted limiter holding 1/concurrency of the
 * provider's windows (as each Lambda would), scaled down 60× like bench:ingest's (a "minute" of 1 s),
 * and `--per-shard` requests in flight; Open-Meteo's 50 sites per request. The bound of each setting:
 * a shard's least time (bench:ingest's formula) for its sites under its share of the windows and its
 * concurrency, the shards in ⌈shards / concurrency⌉ waves. With the defaults (50 weighted calls a
 * request) one and two shards in flight are bound by their request concurrency (1,000 sites/s a
 * shard), and at four the limiter's shares (1,000 weighted calls a second each) bind exactly as much.
 * Goal (same run): achieved sites/s of the ingest phase ≥ 0.8 × that bound, in each setting.
 * Also: the whole execution's time (transforms included), peak RSS of this process (engine, shards,
 * bronze writes; the simulator runs apart), and the growth from 1 to 2 to 4 shards in flight.
 * Results: bench/results/scale.{json,md}. Throw-away `wdo_bench_*` databases, one per setting.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "#core/adapters/database.ts";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { PgOpsLedger } from "#core/adapters/pg-ops-ledger.ts";
import { loadConfig } from "#core/config/env.ts";
import { migrate } from "#core/db/migrate.ts";
import { parseInterval } from "#core/domain/interval.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { createProvider } from "#core/providers/index.ts";
import { WeightedLimiter } from "#core/providers/limits.ts";
import { localTasks, runEmbeddedWorkflow } from "#core/workflow/embedded-engine.ts";
import { type IngestTaskDeps, localIngestTasks } from "#core/workflow/ingest-tasks.ts";
import {
  type BenchRow,
  benchDatabase,
  benchOptions,
  leastTimeMs,
  scaledWindows,
  spawnSimulator,
  syntheticSites,
  writeResults,
} from "./lib.ts";

const opt = benchOptions(
  "scale",
  "One hour of many sites through the sharded workflow, 1, 2 and 4 shards in flight.",
  {
    sites: { default: 100000, help: "sites ingested for the hour" },
    "shard-size": { default: 12500, help: "sites per shard" },
    latency: { default: 50, min: 0, help: "the simulator's latency per request, ms" },
    "per-shard": { default: 1, help: "requests in flight per shard" },
    limit: { default: 4000, help: "weighted calls per scaled minute (1 s), all shards together" },
  },
);
const SITES = opt.sites;
const SHARD_SIZE = opt["shard-size"];
const LATENCY_MS = opt.latency;
const PER_SHARD = opt["per-shard"];
/** Weighted calls per scaled minute (1 s) for all shards together. */
const LIMIT = opt.limit;
const BATCH = 50;
const API_KEY = "bench-key";
const CONCURRENCIES = [1, 2, 4];
/** The current hour, as the simulator answers for its real clock. */
const INTERVAL = parseInterval(new Date().toISOString().slice(0, 13));

const log = (msg: string) =>
  process.stderr.write(`[bench:scale] ${new Date().toISOString().slice(11, 19)} ${msg}\n`);

interface Measured {
  concurrency: number;
  shards: number;
  sitesOk: number;
  ingestSeconds: number;
  executionSeconds: number;
  bound: number;
  status: string;
}

async function measure(simUrl: string, concurrency: number): Promise<Measured> {
  const target = await benchDatabase();
  const rawDir = await mkdtemp(join(tmpdir(), "wdo-bench-scale-"));
  const db = openDatabase(target.url, { max: 2 + 2 * concurrency });
  try {
    await migrate(db.pool);
    const config = loadConfig(
      {
        OPEN_METEO_BASE_URL: simUrl,
        OPEN_METEO_BATCH_SIZE: String(BATCH),
        OPEN_METEO_CONCURRENCY: String(PER_SHARD),
      },
      {},
    );
    const provider = createProvider(config, "open-meteo");
    const sites = syntheticSites(SITES);
    const weightPerRequest = provider.requestWeight(sites.slice(0, BATCH));
    let sitesDone = 0;
    let lastReport = performance.now();
    const deps: IngestTaskDeps = {
      rawStore: fsRawStore(rawDir),
      bronze: pgBronzeRepository(db.pool),
      log: memoryLog(),
      source: "open-meteo",
      // Per shard invocation: its own limiter with its share of the (scaled) windows, as a Lambda's.
      ingest: async () => ({
        provider,
        policy: { timeoutMs: 5_000, maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 1_000 },
        limiter: new WeightedLimiter(scaledWindows(LIMIT / concurrency)),
      }),
      sites: async () => sites,
      shardSize: SHARD_SIZE,
      concurrency,
      failureThreshold: 0.1,
      clockToleranceMinutes: 60,
      objects: { bucket: "", prefix: "" },
      onShardProgress: () => {
        sitesDone += BATCH;
        if (performance.now() - lastReport > 5_000) {
          lastReport = performance.now();
          log(`  ${concurrency} in flight: ~${Math.min(sitesDone, SITES)}/${SITES} sites`);
        }
      },
    };
    const ingest = localIngestTasks(deps);
    let ingestStarted = 0;
    let ingestEnded = 0;
    const tasks = localTasks(
      { pool: db.pool, log: memoryLog() },
      {
        ...ingest,
        PlanIngest: async (input) => {
          ingestStarted = performance.now();
          return ingest.PlanIngest(input);
        },
        CompleteIngestion: async (input) => {
          const out = await ingest.CompleteIngestion(input);
          ingestEnded = performance.now();
          return out;
        },
      },
    );
    const started = performance.now();
    const result = await runEmbeddedWorkflow(
      { ledger: new PgOpsLedger(db.pool), log: memoryLog(), tasks },
      { interval: INTERVAL, ingest: true },
      { shardConcurrency: concurrency },
    );
    const executionSeconds = (performance.now() - started) / 1000;
    const ingestion = (result.output as { ingestion?: { sitesOk: number; shards: number } } | null)
      ?.ingestion;
    if (result.status !== "succeeded" || !ingestion)
      throw new Error(`the workflow ${result.status}: ${result.error} ${result.cause}`);
    // The bound: each shard's least time under its share of the windows and its concurrency, in waves.
    const shards = Math.ceil(SITES / SHARD_SIZE);
    const perShard = leastTimeMs({
      sites: SHARD_SIZE,
      batchSize: BATCH,
      weightPerRequest,
      windowMs: 1_000,
      capacity: LIMIT / concurrency,
      concurrency: PER_SHARD,
      latencyMs: LATENCY_MS,
    });
    const bound = SITES / ((Math.ceil(shards / concurrency) * perShard) / 1000);
    return {
      concurrency,
      shards: ingestion.shards,
      sitesOk: ingestion.sitesOk,
      ingestSeconds: (ingestEnded - ingestStarted) / 1000,
      executionSeconds,
      bound,
      status: result.status,
    };
  } finally {
    await db.close();
    await target.drop();
    await rm(rawDir, { recursive: true, force: true });
  }
}

const sim = await spawnSimulator({ latencyMs: LATENCY_MS, apiKey: API_KEY });
const measured: Measured[] = [];
try {
  for (const c of CONCURRENCIES) {
    log(
      `${SITES} sites in shards of ${SHARD_SIZE}, ${c} in flight, ${PER_SHARD} requests per shard, ${LIMIT} weighted calls per 1 s window in all`,
    );
    measured.push(await measure(sim.url, c));
    const m = measured.at(-1) as Measured;
    log(
      `  ingest ${m.ingestSeconds.toFixed(1)} s (${(m.sitesOk / m.ingestSeconds).toFixed(0)} sites/s, bound ${m.bound.toFixed(0)}); execution ${m.executionSeconds.toFixed(1)} s`,
    );
  }
} finally {
  await sim.close();
}

const rows: BenchRow[] = [];
const base = measured[0] as Measured;
const rate = (m: Measured) => m.sitesOk / m.ingestSeconds;
for (const m of measured) {
  rows.push(
    {
      metric: `ingest phase, ${m.concurrency} shard(s) in flight (${m.shards} shards, ${m.sitesOk} sites ok)`,
      value: rate(m),
      unit: "sites/s",
      baseline: m.bound,
      ratio: rate(m) / m.bound,
      goal: "≥ 0.8 × the bound of the shards' limiter shares and concurrency",
      pass: rate(m) / m.bound >= 0.8,
    },
    {
      metric: `whole execution (ingest + silver + checks + gold + checks), ${m.concurrency} in flight`,
      value: m.executionSeconds,
      unit: "s",
    },
  );
  if (m !== base)
    rows.push({
      metric: `throughput growth, ${m.concurrency} vs 1 in flight`,
      value: rate(m) / rate(base),
      unit: "×",
      baseline: m.bound / base.bound,
      ratio: rate(m) / rate(base) / (m.bound / base.bound),
    });
}
rows.push({
  metric: "peak RSS (this process: engine, shards, bronze writes)",
  value: process.resourceUsage().maxRSS / 1024,
  unit: "MiB",
});
await writeResults(
  "scale",
  {
    sites: SITES,
    shardSize: SHARD_SIZE,
    latencyMs: LATENCY_MS,
    requestsInFlightPerShard: PER_SHARD,
    sitesPerRequest: BATCH,
    weightedCallsPerScaledMinute: LIMIT,
    database: "server Postgres (DATABASE_URL or the machine's)",
  },
  rows,
);
