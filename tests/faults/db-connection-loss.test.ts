/**
 * Fault: the backend loading bronze is terminated mid-ingest (issue 10, item 3).
 *
 * A 3,000-site ingest from the simulator; the test holds a SHARE lock on bronze so the first bronze
 * load (COPY into the session's staging table, then the upsert from it) waits, terminates exactly
 * that backend, and lets go. Before the fix the pg client emitted an unheard 'error' and the process
 * died. Now: no crash, the batch's sites fail naming the lost connection, DbErrors counts it, the run
 * is recorded as failed (not left running), and a rerun lands every row exactly once — the same rows
 * as a clean run into another database.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWeather, waitFor, weather } from "./support/cli.ts";
import { type PrivatePostgres, startPrivatePostgres } from "./support/private-postgres.ts";

const SITES = 3000;
const INTERVAL = "2026-11-22T13";
// Fast simulated API: the bound here is the database, not the rate limit.
const ENV = {
  OPEN_METEO_CALLS_PER_MINUTE: "1000000",
  OPEN_METEO_CALLS_PER_HOUR: "1000000",
  OPEN_METEO_CALLS_PER_DAY: "1000000",
  OPEN_METEO_CONCURRENCY: "4",
};

// Observation content; the load-time provenance (ingested_at, raw_object_key) differs per attempt by design.
const CHECKSUM = `select count(*)::int as n, md5(string_agg(t::text, '|' order by t::text)) as sum from (
  select site_id, source, observed_at, temperature_c, feels_like_c, humidity_pct, pressure_hpa, wind_speed_ms,
         wind_gust_ms, wind_direction_deg, cloud_cover_pct, precipitation_mm, precipitation_window_minutes,
         condition_code, condition_system, ingestion_run_id, payload
  from bronze.weather_observations) as t`;

let server: PrivatePostgres;
let dir: string;
let sitesFile: string;

beforeAll(async () => {
  server = await startPrivatePostgres();
  dir = await mkdtemp(join(tmpdir(), "wdo-fault-copy-"));
  sitesFile = join(dir, "sites.json");
  const sites = Array.from({ length: SITES }, (_, i) => ({
    id: `site-${String(i).padStart(5, "0")}`,
    name: `Site ${i}`,
    lat: -60 + ((i * 7.3) % 120),
    lon: -170 + ((i * 13.7) % 340),
    timezone: "UTC",
    country: "XX",
  }));
  await writeFile(sitesFile, JSON.stringify(sites));
});

afterAll(async () => {
  await server?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ingestArgs = (db: string) => [
  "ingest",
  "--source",
  "simulator",
  "--interval",
  INTERVAL,
  "--sites",
  sitesFile,
  "--db",
  db,
  "--home",
  dir,
  "--json",
];

describe("a bronze load whose backend is terminated", () => {
  it("fails the batch with the named error, counts DbErrors, records the run, and a rerun lands every row once", async () => {
    // Prepare: a clean reference run, and a migrated database for the fault.
    const cleanUrl = await server.createDatabase("clean");
    const clean = await weather(ingestArgs(cleanUrl), { env: ENV });
    expect(clean.code, clean.stderr).toBe(0);
    const reference = (await server.query<{ n: number; sum: string }>(CHECKSUM, [], "clean")).rows[0];
    expect(reference?.n).toBe(SITES);

    const url = await server.createDatabase("fault");
    expect((await weather(["migrate", "--db", url], { env: ENV })).code).toBe(0);
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    // The hour's month partition and the next exist, as the hourly ingest makes them a month ahead:
    // the load's first statement to wait on the lock below is then the upsert itself (attaching a
    // new partition would wait on it first).
    await blocker.query(
      "select bronze.ensure_observation_partitions($1, $1::timestamptz + interval '1 month')",
      [`${INTERVAL}:00:00Z`],
    );
    await blocker.query("begin");
    await blocker.query("lock table bronze.weather_observations in share mode");

    // Act: ingest; once the first load waits on the lock, terminate that backend, then let go.
    const run = startWeather(ingestArgs(url), { env: ENV });
    const killed = await waitFor(async () => {
      // A fresh hour's batch goes into bronze by COPY directly (core/adapters/pg-bronze-repository.ts).
      const pids = await server.terminateBackends("fault", "copy bronze.weather_observations %");
      return pids.length > 0 ? pids : undefined;
    });
    await blocker.query("rollback");
    await blocker.end();
    const faulted = await run.done;

    // Assess: no crash — one JSON document, the run failed on the lost rows, the error named.
    expect(killed).toHaveLength(1);
    expect(faulted.stderr).not.toMatch(/Unhandled 'error' event/);
    const doc = JSON.parse(faulted.stdout) as {
      status: string;
      dbErrors: number;
      sitesFailed: number;
      sites: { status: string; reason: string | null }[];
    };
    expect(doc.dbErrors).toBeGreaterThanOrEqual(1);
    expect(doc.sitesFailed).toBeGreaterThan(0);
    const reasons = new Set(doc.sites.filter((s) => s.status === "failed").map((s) => s.reason));
    expect([...reasons].every((r) => r?.includes("Lost the connection to the database"))).toBe(true);
    expect(faulted.code).toBe(doc.status === "failed" ? 1 : 0);
    const ledger = await server.query<{ status: string }>(
      "select status from ops.ingestion_runs",
      [],
      "fault",
    );
    expect(ledger.rows.map((r) => r.status)).toEqual([doc.status]);

    // Act: the rerun of the hour.
    const rerun = await weather(ingestArgs(url), { env: ENV });

    // Assess: every row exactly once, the same rows as the clean run; the run took its row over.
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = (await server.query<{ n: number; sum: string }>(CHECKSUM, [], "fault")).rows[0];
    expect(after).toEqual(reference);
    const runs = await server.query<{ status: string; attempt: number }>(
      "select status, attempt from ops.ingestion_runs",
      [],
      "fault",
    );
    expect(runs.rows).toEqual([{ status: "succeeded", attempt: 2 }]);
  });
});
