/**
 * Shared benchmark plumbing: a throw-away database on the machine's Postgres, result files, synthetic
 * sites, the simulator in its own process, and the limiter's windows scaled down with their least time.
 */

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import pg from "pg";
import { type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import type { BronzeRow } from "#core/ports.ts";
import type { LimitWindow } from "#core/providers/limits.ts";

export const SERVER_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Creates `wdo_bench_<random>` and returns its URL plus a drop function. */
export async function benchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `wdo_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: SERVER_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/** A numeric option of a bench: its default, its help line, and its least value (default 1). */
export interface BenchOption {
  default: number;
  help: string;
  min?: number;
}

/**
 * Parses a bench's options with commander, as the weather CLI does: `--help` prints the usage and
 * exits 0; an unknown option, a stray argument, or a value that is not an integer at least the
 * option's minimum is named and exits 2 (bad input), before anything is measured or created.
 */
export function benchOptions<K extends string>(
  name: string,
  summary: string,
  spec: Record<K, BenchOption>,
  argv: string[] = process.argv,
): Record<K, number> {
  const cmd = new Command(`npm run bench:${name} --`)
    .description(summary)
    .helpOption("-h, --help", "show this help")
    .allowExcessArguments(false)
    .exitOverride();
  const attributes: [K, string][] = [];
  for (const [flag, o] of Object.entries(spec) as [K, BenchOption][]) {
    const least = o.min ?? 1;
    const option = new Option(`--${flag} <n>`, o.help).default(o.default).argParser((value: string) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < least) {
        throw new InvalidArgumentError(`expected an integer of at least ${least}, got '${value}'`);
      }
      return n;
    });
    cmd.addOption(option);
    attributes.push([flag, option.attributeName()]);
  }
  try {
    cmd.parse(argv);
  } catch (e) {
    // commander has printed the help or the error already.
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    throw e;
  }
  const parsed = cmd.opts<Record<string, number>>();
  return Object.fromEntries(attributes.map(([flag, attr]) => [flag, parsed[attr]])) as Record<K, number>;
}

export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  goal?: string;
  pass?: boolean;
}

/** Writes bench/results/NAME.json and NAME.md (a markdown table) and prints the table. */
export async function writeResults(
  name: string,
  meta: Record<string, unknown>,
  rows: BenchRow[],
): Promise<void> {
  await mkdir("bench/results", { recursive: true });
  const doc = { name, at: new Date().toISOString(), node: process.version, ...meta, rows };
  await writeFile(`bench/results/${name}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  const fmt = (n: number | undefined) =>
    n === undefined ? "" : Number.isInteger(n) ? String(n) : n.toFixed(3);
  const lines = [
    `# bench: ${name}`,
    "",
    `Run ${doc.at} on Node ${process.version}. ${Object.entries(meta)
      .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join("; ")}`,
    "",
    "| metric | value | unit | baseline | ratio | goal | pass |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.metric} | ${fmt(r.value)} | ${r.unit} | ${fmt(r.baseline)} | ${fmt(r.ratio)} | ${r.goal ?? ""} | ${r.pass === undefined ? "" : r.pass ? "yes" : "NO"} |`,
    ),
    "",
  ];
  await writeFile(`bench/results/${name}.md`, lines.join("\n"));
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** The tier's windows, 60× shorter. */
export const scaledWindows = (perMinute: number): LimitWindow[] => [
  { name: "minute", durationMs: 1_000, capacity: perMinute },
  { name: "hour", durationMs: 60_000, capacity: perMinute * 60 },
  { name: "day", durationMs: 1_440_000, capacity: perMinute * 1_440 },
];

/** The least time for `sites` under one sliding window and the concurrency: see the module header. */
export function leastTimeMs(args: {
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

/** A grid of distinct, valid coordinates. */
export function syntheticSites(n: number): Site[] {
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
export async function spawnSimulator(
  opts: { latencyMs?: number; apiKey?: string } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const args = ["--import", "tsx", "simulator/server.ts", "--port", "0"];
  if (opts.latencyMs !== undefined) args.push("--latency-ms", String(opts.latencyMs));
  if (opts.apiKey !== undefined) args.push("--api-key", opts.apiKey);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
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

/**
 * One ingestion run per hour in [from, to] and one bronze row per site and hour, in SQL (the history of
 * bench:transform and bench:peers): a yearly and a daily temperature cycle, other columns by site.
 * Rows are written hour by hour, every site of an hour together, as hourly ingest lands them: a
 * full rebuild reads each site's rows from pages it shares with the other sites of each hour (at
 * 1,000 sites × 1 year silver's rebuild took 65.6 s that way against 53.1 s on the same rows written
 * site by site, which is how this function wrote them before 2026-12-07).
 */
export async function generateHistory(
  pool: pg.Pool,
  sites: number,
  from: Interval,
  to: Interval,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("set time zone 'UTC'");
    await client.query("set synchronous_commit = off");
    await client.query(
      `insert into ops.ingestion_runs
         (run_id, source, interval, started_at, finished_at, status, sites_total, sites_ok, observations_loaded,
          raw_object_keys)
       select 'bench-' || to_char(h, 'YYYY-MM-DD"T"HH24'), 'open-meteo', to_char(h, 'YYYY-MM-DD"T"HH24'),
         h + interval '50 minutes', h + interval '51 minutes', 'succeeded', $3, $3, $3,
         array['raw/open-meteo/' || to_char(h, 'YYYY-MM-DD"T"HH24') || '.json']
       from generate_series($1::timestamptz, $2::timestamptz, interval '1 hour') as h`,
      [intervalStart(from), intervalStart(to), sites],
    );
    // Bronze is partitioned by month (migration 0091): their partitions first, as the repository does.
    await client.query("select bronze.ensure_observation_partitions($1, $2)", [
      intervalStart(from),
      intervalStart(to),
    ]);
    await client.query(
      `insert into bronze.weather_observations (
         site_id, source, observed_at, temperature_c, feels_like_c, humidity_pct, pressure_hpa,
         wind_speed_ms, wind_gust_ms, wind_direction_deg, cloud_cover_pct, precipitation_mm,
         precipitation_window_minutes, condition_code, condition_system, ingestion_run_id, ingested_at,
         raw_object_key, payload)
       select
         'site-' || lpad(s::text, 5, '0'), 'open-meteo', h + interval '45 minutes',
         round((10 + 12 * sin(extract(epoch from h) / 86400.0 / 365 * 2 * pi())
                + 5 * sin(extract(epoch from h) / 3600.0 / 24 * 2 * pi()) + (s % 13) - 6)::numeric, 1),
         round((8 + 12 * sin(extract(epoch from h) / 86400.0 / 365 * 2 * pi()) + (s % 11) - 5)::numeric, 1),
         40 + (s * 7 + extract(hour from h)::int) % 50, 1000 + s % 20, 2 + s % 5, 4 + s % 7, (s * 37) % 360,
         (s * 11) % 100, case when (s + extract(hour from h)::int) % 17 = 0 then 0.3 else 0 end, 15, '3', 'wmo',
         'bench-' || to_char(h, 'YYYY-MM-DD"T"HH24'), h + interval '50 minutes',
         'raw/open-meteo/' || to_char(h, 'YYYY-MM-DD"T"HH24') || '.json', '{}'::jsonb
       from generate_series($1::timestamptz, $2::timestamptz, interval '1 hour') as h
       -- The series' bound mentions h (times 0), so it depends on h: h drives the loop and rows go in
       -- hour by hour (see the doc comment).
       cross join lateral generate_series(1, $3 + 0 * extract(hour from h)::integer) as s`,
      [intervalStart(from), intervalStart(to), sites],
    );
  } finally {
    client.release();
  }
}

/**
 * The rows bench:ingest and bench:peers load: 1,000 sites × (n / 1,000) hours back from 2026-11-22T13,
 * shaped like a live ingest's.
 */
export function syntheticRows(n: number): BronzeRow[] {
  const base = intervalStart(parseInterval("2026-11-22T13")).getTime();
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
