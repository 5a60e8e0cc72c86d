/**
 * bench:backfill — a year of history for 100 sites from the simulator into bronze, silver and gold
 * through the real backfill path (`weather backfill`'s ports: coverage → raw replay check → history
 * fetch → raw + bronze → ONE transformRange → coverage), against a bronze COPY baseline measured in
 * the same run.
 *
 *   npm run bench:backfill [-- --sites 100 --days 365]
 *
 * The simulator runs in its own process (as the real API would); the range ends with the last
 * complete hour. Goal (ratio, same run): end-to-end rows/s (bronze rows ÷ the backfill's wall time)
 * ≥ 0.5 × the rows/s of a plain COPY of the same rows into an unlogged copy of the bronze table (best
 * of three rounds). Beside it: the history landing's rows/s (fetch, raw, parse and bronze upserts,
 * two side by side) and the floor any landing has here — a COPY of the same rows into a logged copy of
 * bronze with its indexes (docs/decisions.md, "Backfill throughput", says why the goal sits below
 * it). Where the time went: coverage reads, the raw replay check, the landing's wall time and the
 * summed time inside its upserts, silver, silver checks, gold, gold checks, and the current hour
 * (served live with its own workflow, as every backfill does). Results: bench/results/backfill.{json,md}.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { loadConfig } from "#core/config/env.ts";
import { migrate } from "#core/db/migrate.ts";
import { addHours, type Interval, intervalOf } from "#core/domain/interval.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { openRuntime } from "#core/runtime.ts";
import { backfill } from "#core/use-cases/backfill.ts";
import { type TransformRangeResult, transformRange } from "#core/use-cases/transform.ts";
import { backfillDeps } from "../cli/commands/backfill.ts";
import type { SourceSession } from "../cli/context.ts";
import type { Output } from "../cli/output.ts";
import {
  type BenchRow,
  benchDatabase,
  benchOptions,
  spawnSimulator,
  syntheticSites,
  writeResults,
} from "./lib.ts";

const opt = benchOptions(
  "backfill",
  "A year of simulator history through the backfill path, against a bronze COPY.",
  {
    sites: { default: 100, help: "sites backfilled" },
    days: { default: 365, help: "days of history backfilled" },
  },
);
const SITES = opt.sites;
const DAYS = opt.days;
const ROUNDS = 3;

const say = (msg: string) =>
  process.stderr.write(`[bench:backfill] ${new Date().toISOString().slice(11, 19)} ${msg}\n`);

/** Progress and people's lines to stderr; no bars, no result document. */
const quiet: Output = {
  json: true,
  say: (text) => say(text),
  result: () => {},
  progress: () => ({ update: () => {}, stop: () => {} }),
};

/** Adds the time spent inside `fn` to `acc[key]`. */
function timed<A extends unknown[], R>(
  acc: Record<string, number>,
  key: string,
  fn: (...a: A) => Promise<R>,
): (...a: A) => Promise<R> {
  return async (...a) => {
    const t = performance.now();
    try {
      return await fn(...a);
    } finally {
      acc[key] = (acc[key] ?? 0) + (performance.now() - t);
    }
  };
}

/** A check run's time: the sum of its checks' (they run one after another). */
const checksMs = (report: { checks: { durationMs: number }[] }) =>
  report.checks.reduce((n, c) => n + c.durationMs, 0);

/**
 * Best of three COPYs of bronze's rows (rows/s) into (a) an unlogged copy of the table without indexes
 * — the baseline the goal names — and (b) a logged copy with bronze's indexes and constraints: the
 * least any landing of these rows in a table shaped like bronze can cost, before parsing or upserting.
 */
async function copyBaselines(
  pool: import("pg").Pool,
): Promise<{ rows: number; unlogged: number; likeBronze: number }> {
  await pool.query("create unlogged table bench_copy (like bronze.weather_observations including defaults)");
  await pool.query("create table bench_copy_indexed (like bronze.weather_observations including all)");
  const client = await pool.connect();
  try {
    // The rows as COPY text, in memory, so the timed part is the COPY into the table alone.
    const chunks: Buffer[] = [];
    const sink = new PassThrough();
    sink.on("data", (c: Buffer) => chunks.push(c));
    await pipeline(client.query(copyTo("copy bronze.weather_observations to stdout")), sink);
    const { rows } = await client.query<{ n: number }>(
      "select count(*)::int as n from bronze.weather_observations",
    );
    const n = rows[0]?.n ?? 0;
    const best = async (table: string) => {
      let rate = 0;
      for (let round = 0; round < ROUNDS; round++) {
        await client.query(`truncate ${table}`);
        await client.query("checkpoint");
        const t = performance.now();
        const source = new PassThrough();
        const done = pipeline(source, client.query(copyFrom(`copy ${table} from stdin`)));
        for (const c of chunks) if (!source.write(c)) await new Promise((r) => source.once("drain", r));
        source.end();
        await done;
        rate = Math.max(rate, n / ((performance.now() - t) / 1000));
      }
      return rate;
    };
    return { rows: n, unlogged: await best("bench_copy"), likeBronze: await best("bench_copy_indexed") };
  } finally {
    client.release();
  }
}

const target = await benchDatabase();
const sim = await spawnSimulator();
const rawDir = await mkdtemp(join(tmpdir(), "wdo-bench-backfill-"));
const config = loadConfig(
  { DATABASE_URL: target.url, RAW_STORE: rawDir, WEATHER_SOURCE: "simulator", SIMULATOR_URL: sim.url },
  {},
);
const rt = await openRuntime(config);
const started = performance.now();
try {
  await migrate(rt.db.pool);
  const sites = syntheticSites(SITES);
  const to = addHours(intervalOf(new Date()), -1);
  const from = addHours(to, -(DAYS * 24 - 1));
  const time: Record<string, number> = {};
  // Bronze writes, timed where they happen (inside the history fetch).
  rt.bronze = { ...rt.bronze, upsertObservations: timed(time, "load", rt.bronze.upsertObservations) };
  const session: SourceSession = { config, source: "simulator", supportsHistory: false, pin: () => {} };
  const log = memoryLog();
  const deps = await backfillDeps(rt, session, { sites, log, out: quiet, catchUp: "all", pace: false });
  const history = deps.history;
  if (!history) throw new Error("the simulator source has no history port");
  let range: TransformRangeResult | undefined;
  const measured = {
    ...deps,
    missing: timed(time, "coverage", deps.missing),
    hasRaw: timed(time, "replayCheck", deps.hasRaw),
    replay: timed(time, "replayCheck", deps.replay),
    ingest: timed(time, "currentHour", deps.ingest),
    runWorkflow: timed(time, "currentHour", deps.runWorkflow),
    history: {
      ...history,
      fetchHistory: timed(time, "history", history.fetchHistory),
      // transformRangeOnce's own call, kept here for its result (the step timings).
      transformRange: timed(time, "transform", async (f: Interval, t: Interval) => {
        range = await transformRange(pgOpsPorts(rt.db.pool, log), { from: f, to: t, trigger: "backfill" });
        return { status: "succeeded" as const, runId: range.gold.runId };
      }),
    },
  };
  say(`backfill ${from} → ${to}, ${SITES} sites from the simulator`);
  const t0 = performance.now();
  const report = await backfill(measured, { from, to, catchUp: "all" });
  const wallMs = performance.now() - t0;
  if (report.failed || !range)
    throw new Error(
      `backfill failed: ${report.siteHoursStillMissing} site-hours missing, ${JSON.stringify(report.history?.transform)}`,
    );
  const { rows: counts } = await rt.db.pool.query<{ bronze: number; silver: number; gold: number }>(
    `select (select count(*)::int from bronze.weather_observations) as bronze,
            (select count(*)::int from silver.observations) as silver,
            (select count(*)::int from gold_internal.site_hourly) as gold`,
  );
  const c = counts[0] ?? { bronze: 0, silver: 0, gold: 0 };
  say(
    `backfill ${(wallMs / 1000).toFixed(1)} s: ${c.bronze} bronze, ${c.silver} silver, ${c.gold} gold rows; COPY baseline`,
  );
  const copy = await copyBaselines(rt.db.pool);
  const rate = c.bronze / (wallMs / 1000);
  // Landing: the history fetch's wall time (HTTP, raw objects, parsing, bronze upserts side by side).
  const landingRate = c.bronze / ((time.history ?? 0) / 1000);
  const s = (ms: number | undefined) => (ms ?? 0) / 1000;
  const r = range;
  const rows: BenchRow[] = [
    { metric: "bronze rows (site-hours)", value: c.bronze, unit: "rows" },
    { metric: "silver rows", value: c.silver, unit: "rows" },
    { metric: "gold hourly rows", value: c.gold, unit: "rows" },
    { metric: "history requests", value: report.history?.requests.length ?? 0, unit: "plan groups" },
    {
      metric: "backfill end to end (bronze rows ÷ wall time)",
      value: rate,
      unit: "rows/s",
      baseline: copy.unlogged,
      ratio: rate / copy.unlogged,
      goal: "≥ 0.5 × COPY into an unlogged bronze copy",
      pass: rate / copy.unlogged >= 0.5,
    },
    {
      metric: "history landing (HTTP, raw, parse, bronze upserts)",
      value: landingRate,
      unit: "rows/s",
      baseline: copy.unlogged,
      ratio: landingRate / copy.unlogged,
    },
    {
      metric: "floor: COPY into a logged copy of bronze with its indexes",
      value: copy.likeBronze,
      unit: "rows/s",
      baseline: copy.unlogged,
      ratio: copy.likeBronze / copy.unlogged,
    },
    { metric: "total wall time", value: wallMs / 1000, unit: "s" },
    { metric: "time: coverage reads", value: s(time.coverage), unit: "s" },
    { metric: "time: raw replay check (per gap hour)", value: s(time.replayCheck), unit: "s" },
    { metric: "time: history landing (wall)", value: s(time.history), unit: "s" },
    { metric: "time: bronze upserts (summed; two run side by side)", value: s(time.load), unit: "s" },
    { metric: "time: silver", value: s(r.silver.durationMs), unit: "s" },
    { metric: "time: silver checks", value: s(checksMs(r.silverChecks)), unit: "s" },
    { metric: "time: gold", value: s(r.gold.durationMs), unit: "s" },
    { metric: "time: gold checks", value: s(checksMs(r.goldChecks)), unit: "s" },
    { metric: "time: transformRange (all four)", value: s(time.transform), unit: "s" },
    { metric: "time: current hour (live ingest + its workflow)", value: s(time.currentHour), unit: "s" },
  ];
  await writeResults(
    "backfill",
    {
      sites: SITES,
      days: DAYS,
      range: `${from}..${to}`,
      reducedScale: DAYS < 365 || SITES < 100 ? "yes (not the goal's 1 year × 100 sites)" : "no",
      copyRounds: ROUNDS,
      totalSeconds: Math.round((performance.now() - started) / 1000),
      load: (await import("node:os")).loadavg().map((x) => Math.round(x * 10) / 10),
    },
    rows,
  );
} finally {
  await rt.close();
  await sim.close();
  await target.drop();
  await rm(rawDir, { recursive: true, force: true });
}
