/**
 * bench:ingest — 10,000 sites through the simulator (50 ms latency) with the real ingest use case,
 * and the bronze upsert against a raw COPY of the same rows into an unlogged table, in one run.
 *
 *   npm run bench:ingest [-- --sites 10000 --latency 50 --rows 100000]
 *
 * Three limiter scenarios, each bound by one limit. The weighted limiter gets the tier's three
 * windows scaled down 60× (a "minute" of 1 s, an "hour" of 60 s, a "day" of 24 min), so a window
 * binds within seconds instead of minutes; all three are checked on every grant.
 * - rate-bound: OpenWeatherMap (1 site, weight 1 per request), 300 calls per 1 s window, 50 in flight;
 * - weighted-rate-bound: Open-Meteo (50 sites, weight 50 per request), 1,000 weighted calls per 1 s
 *   window (20 requests), 4 in flight;
 * - concurrency-bound: OpenWeatherMap, 10 in flight at 50 ms = 200 requests/s, limits far away; the
 *   bound assumes the nominal latency, so client and server overhead per request count against it.
 * The bound of a sliding window of length W holding C weighted calls: requests of weight w go C/w at
 * once, the next C/w one W later, …; each chunk is pushed at the concurrency's pace. For R requests,
 * K = ⌈R / (C/w)⌉ − 1 full windows pass before the last r = R − K·(C/w) requests, so the least time is
 * max(K·W + ⌈r / concurrency⌉ × latency, ⌈R / concurrency⌉ × latency).
 * Goals (ratios, measured in the same run): achieved sites/s ≥ 0.9 × sites / that least time;
 * bronze upsert rows/s ≥ 0.6 × COPY rows/s. Results: bench/results/ingest.{json,md}.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { from as copyFrom } from "pg-copy-streams";
import { openDatabase } from "#core/adapters/database.ts";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { COPY_COLUMNS, copyLines, pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { loadConfig } from "#core/config/env.ts";
import { migrate } from "#core/db/migrate.ts";
import { intervalStart, parseInterval } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import type { BronzeRow } from "#core/ports.ts";
import { createProvider } from "#core/providers/index.ts";
import { type LimitWindow, WeightedLimiter } from "#core/providers/limits.ts";
import { ingestInterval } from "#core/use-cases/ingest.ts";
import { type BenchRow, benchDatabase, writeResults } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    sites: { type: "string", default: "10000" },
    latency: { type: "string", default: "50" },
    rows: { type: "string", default: "100000" },
  },
});
const SITES = Number(opt.sites);
const LATENCY_MS = Number(opt.latency);
interface Scenario {
  name: string;
  source: "openweather" | "open-meteo";
  concurrency: number;
  /** Weighted calls per scaled minute (1 s); the scaled hour and day hold 60× and 1,440× that. */
  perScaledMinute: number;
}
const SCENARIOS: Scenario[] = [
  { name: "rate-bound", source: "openweather", concurrency: 50, perScaledMinute: 300 },
  { name: "weighted-rate-bound", source: "open-meteo", concurrency: 4, perScaledMinute: 1_000 },
  { name: "concurrency-bound", source: "openweather", concurrency: 10, perScaledMinute: 1_000_000 },
];
/** The tier's windows, 60× shorter. */
const scaledWindows = (perMinute: number): LimitWindow[] => [
  { name: "minute", durationMs: 1_000, capacity: perMinute },
  { name: "hour", durationMs: 60_000, capacity: perMinute * 60 },
  { name: "day", durationMs: 1_440_000, capacity: perMinute * 1_440 },
];

/** The least time for `sites` under one sliding window and the concurrency: see the module header. */
function leastTimeMs(args: {
  sites: number;
  batchSize: number;
  weightPerRequest: number;
  windowMs: number;
  capacity: number;
  concurrency: number;
  latencyMs: number;
}): number {
  const requests = Math.ceil(args.sites / args.batchSize);
  const perWindow = Math.max(1, Math.floor(args.capacity / args.weightPerRequest));
  const k = Math.ceil(requests / perWindow) - 1;
  const last = requests - k * perWindow;
  const rateBound = k * args.windowMs + Math.ceil(last / args.concurrency) * args.latencyMs;
  const concurrencyBound = Math.ceil(requests / args.concurrency) * args.latencyMs;
  return Math.max(rateBound, concurrencyBound);
}
const ROWS = Number(opt.rows);
const INTERVAL = parseInterval("2026-11-22T13");
/**
 * The hour fetched: the current one, as the simulator answers for its real clock; a fixed hour would
 * be quarantined (clock tolerance) once the bench runs a day later.
 */
const FETCH_INTERVAL = parseInterval(new Date().toISOString().slice(0, 13));
const API_KEY = "bench-key";

/** A grid of distinct, valid coordinates. */
function syntheticSites(n: number): Site[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `site-${i}`,
    name: `Site ${i}`,
    lat: -60 + ((i * 7.31) % 130),
    lon: -179 + ((i * 13.7) % 358),
    timezone: "UTC",
    country: "XX",
  }));
}

/**
 * The simulator runs in its own process, as the real API would: sharing the event loop with the
 * client under test would charge the server's work to the ingest throughput.
 */
async function spawnSimulator(): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "simulator/server.ts",
      "--port",
      "0",
      "--latency-ms",
      String(LATENCY_MS),
      "--api-key",
      API_KEY,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stderr.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const m = /weather simulator on (http:\/\/\S+)/.exec(text);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`simulator exited (${code}): ${text}`)));
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

async function benchFetch(url: string, scenario: Scenario): Promise<BenchRow[]> {
  const { concurrency: CONCURRENCY, perScaledMinute } = scenario;
  const sim = await spawnSimulator();
  const rawDir = await mkdtemp(join(tmpdir(), "wdo-bench-raw-"));
  const db = openDatabase(url, { max: 2 });
  try {
    await migrate(db.pool);
    await db.pool.query("truncate bronze.weather_observations, ops.ingestion_runs cascade");
    const config = loadConfig(
      {
        OPENWEATHER_BASE_URL: sim.url,
        OPEN_METEO_BASE_URL: sim.url,
        OPENWEATHER_CONCURRENCY: String(CONCURRENCY),
        OPEN_METEO_CONCURRENCY: String(CONCURRENCY),
      },
      {},
    );
    const provider = createProvider(config, scenario.source, { apiKey: API_KEY });
    const sites = syntheticSites(SITES);
    const windows = scaledWindows(perScaledMinute);
    const limiter = new WeightedLimiter(windows);
    const started = performance.now();
    let lastReport = started;
    const result = await ingestInterval(
      {
        provider,
        rawStore: fsRawStore(rawDir),
        bronze: pgBronzeRepository(db.pool),
        policy: { timeoutMs: 5_000, maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 1_000 },
        log: memoryLog(),
        limiter,
      },
      {
        interval: FETCH_INTERVAL,
        sites,
        failureThreshold: 0.1,
        onProgress: (p) => {
          if (performance.now() - lastReport > 5_000) {
            lastReport = performance.now();
            process.stderr.write(`  ${p.sitesDone}/${p.sitesTotal} sites\n`);
          }
        },
      },
    );
    const seconds = (performance.now() - started) / 1000;
    const achieved = result.sitesOk / seconds;
    const weightPerRequest = provider.requestWeight(sites.slice(0, provider.batchSize));
    const least = leastTimeMs({
      sites: SITES,
      batchSize: provider.batchSize,
      weightPerRequest,
      windowMs: 1_000,
      capacity: perScaledMinute,
      concurrency: CONCURRENCY,
      latencyMs: LATENCY_MS,
    });
    const bound = SITES / (least / 1000);
    const { rows: ledger } = await db.pool.query<{ weighted_calls: number }>(
      "select weighted_calls from ops.ingestion_runs",
    );
    return [
      { metric: `ingest sites ok (${scenario.name})`, value: result.sitesOk, unit: "sites" },
      {
        metric: `ingest throughput (${scenario.name}: ${scenario.source}, weight ${weightPerRequest}/request, ${CONCURRENCY} in flight, ${perScaledMinute} weighted calls per 1 s window)`,
        value: achieved,
        unit: "sites/s",
        baseline: bound,
        ratio: achieved / bound,
        goal: "≥ 0.9 × sites / least time under the sliding windows and concurrency",
        pass: achieved / bound >= 0.9,
      },
      {
        metric: `ingest weighted calls recorded (${scenario.name})`,
        value: Number(ledger[0]?.weighted_calls ?? 0),
        unit: "weighted calls",
      },
      { metric: `ingest fetch p95 (${scenario.name})`, value: result.fetchLatencyP95Ms ?? 0, unit: "ms" },
    ];
  } finally {
    await db.close();
    await sim.close();
    await rm(rawDir, { recursive: true, force: true });
  }
}

function syntheticRows(n: number): BronzeRow[] {
  const base = intervalStart(INTERVAL).getTime();
  return Array.from({ length: n }, (_, i) => ({
    siteId: `site-${i % 1000}`,
    source: "open-meteo",
    kind: "current",
    observedAt: new Date(base - Math.floor(i / 1000) * 3_600_000),
    temperatureC: 10 + (i % 17),
    feelsLikeC: 9 + (i % 13),
    humidityPct: 40 + (i % 50),
    pressureHpa: 1000 + (i % 30),
    windSpeedMs: i % 12,
    windGustMs: (i % 12) + 3,
    windDirectionDeg: i % 360,
    cloudCoverPct: i % 100,
    precipitationMm: (i % 5) / 10,
    precipitationWindowMinutes: 15,
    conditionCode: String(i % 4),
    conditionSystem: "wmo",
    payload: { temperature_2m: 10 + (i % 17), time: "2026-11-22T13:00" },
    ingestionRunId: "open-meteo:2026-11-22T13",
    ingestedAt: new Date(base),
    rawObjectKey: `source=open-meteo/batch-${i % 200}.json`,
  }));
}

const ROUNDS = 3;
/**
 * Best of three alternating rounds for each side: on a shared, noisy machine the best round is the
 * closest to what the code can do, and alternating exposes both sides to the same background load.
 */
async function benchLoad(url: string): Promise<BenchRow[]> {
  const db = openDatabase(url, { max: 1 });
  try {
    await migrate(db.pool);
    await db.pool.query(
      "create unlogged table bench_copy (like bronze.weather_observations including defaults)",
    );
    const rows = syntheticRows(ROWS);
    const repo = pgBronzeRepository(db.pool, { copy: true });
    let upsertRate = 0;
    let copyRate = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await db.pool.query("truncate bronze.weather_observations, bench_copy");
      await db.pool.query("checkpoint");
      let t = performance.now();
      for (let i = 0; i < rows.length; i += 5000) await repo.upsertObservations(rows.slice(i, i + 5000));
      upsertRate = Math.max(upsertRate, rows.length / ((performance.now() - t) / 1000));

      await db.pool.query("checkpoint");
      const client = await db.pool.connect();
      try {
        t = performance.now();
        // The repository's own COPY text, so both sides pay the same encoding: the ratio is what the
        // staging table and the upsert cost over a plain COPY.
        await pipeline(
          Readable.from([copyLines(rows)]),
          client.query(copyFrom(`copy bench_copy (${COPY_COLUMNS.join(", ")}) from stdin`)),
        );
      } finally {
        client.release();
      }
      copyRate = Math.max(copyRate, rows.length / ((performance.now() - t) / 1000));
    }
    const { rows: n } = await db.pool.query(
      "select (select count(*) from bench_copy) as c, (select count(*) from bronze.weather_observations) as b",
    );
    if (n[0].c !== rows.length || n[0].b !== rows.length)
      throw new Error(`row counts differ: ${JSON.stringify(n[0])}`);
    return [
      {
        metric: "bronze upsert",
        value: upsertRate,
        unit: "rows/s",
        baseline: copyRate,
        ratio: upsertRate / copyRate,
        goal: "≥ 0.6 × COPY into an unlogged table",
        pass: upsertRate / copyRate >= 0.6,
      },
    ];
  } finally {
    await db.close();
  }
}

const target = await benchDatabase();
try {
  const fetchRows: BenchRow[] = [];
  for (const scenario of SCENARIOS) {
    process.stderr.write(
      `bench:ingest — ${SITES} sites, ${LATENCY_MS} ms latency, ${scenario.name}: ${scenario.source}, concurrency ${scenario.concurrency}, ${scenario.perScaledMinute} weighted calls per 1 s window\n`,
    );
    fetchRows.push(...(await benchFetch(target.url, scenario)));
  }
  process.stderr.write(`bench:ingest — bronze load of ${ROWS} rows vs COPY\n`);
  const loadRows = await benchLoad(target.url);
  const rssMb = process.resourceUsage().maxRSS / 1024;
  await writeResults(
    "ingest",
    {
      sites: SITES,
      latencyMs: LATENCY_MS,
      scenarios: SCENARIOS,
      rows: ROWS,
    },
    [...fetchRows, ...loadRows, { metric: "peak RSS", value: rssMb, unit: "MiB" }],
  );
} finally {
  await target.drop();
}
