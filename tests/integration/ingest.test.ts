/**
 * Ingestion end to end on a real database (PGlite, or Postgres when DATABASE_URL is set), a real
 * filesystem raw store and the loopback simulator: landing, idempotency, isolation, quarantine, replay.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import { loadSites, type Site } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import type { RawStore } from "#core/ports.ts";
import type { HttpPolicy } from "#core/providers/http.ts";
import { createProvider, parsersFor } from "#core/providers/index.ts";
import { ledgerSeededLimiter, WeightExceedsLimitError } from "#core/providers/limits.ts";
import { ingestInterval } from "#core/use-cases/ingest.ts";
import { replayIntervals } from "#core/use-cases/replay.ts";
import { type FaultRule, type Simulator, startSimulator } from "../../simulator/server.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const INTERVAL: Interval = parseInterval("2026-11-22T13");
const API_KEY = "owm-test-key-5f2c9e";
const policy: HttpPolicy = { timeoutMs: 500, maxAttempts: 3, backoffBaseMs: 5, backoffMaxMs: 20 };

let db: TestDatabase;
let sim: Simulator;
let sites: Site[];
let rawDir: string;
let raw: RawStore;
/** The simulator's clock: the interval's start unless a test moves it. */
let simNow: Date;

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator({ clock: () => simNow, apiKey: API_KEY });
  sites = await loadSites("config/sites.json");
});
afterAll(async () => {
  await sim?.close();
  await db?.destroy();
});
beforeEach(async () => {
  if (rawDir) await rm(rawDir, { recursive: true, force: true });
  rawDir = await mkdtemp(join(tmpdir(), "wdo-raw-"));
  raw = fsRawStore(rawDir);
  simNow = intervalStart(INTERVAL);
  sim.setFaults([]);
  await db.pool.query(
    "truncate bronze.weather_observations, bronze.quarantine, ops.ingestion_runs, ops.ingestion_site_results",
  );
});

function ingest(
  source: "open-meteo" | "openweather",
  faults: FaultRule[] = [],
  log = memoryLog(),
  env: Record<string, string> = {},
) {
  sim.setFaults(faults);
  // The free tier's 60 calls/min would make each OpenWeatherMap run take ~20 s; the limiter itself
  // is measured in bench/ingest.ts.
  const config = loadConfig(
    {
      OPEN_METEO_BASE_URL: sim.url,
      OPENWEATHER_BASE_URL: sim.url,
      OPENWEATHER_CALLS_PER_MINUTE: "60000",
      OPENWEATHER_CALLS_PER_HOUR: "1000000",
      OPENWEATHER_CALLS_PER_DAY: "1000000",
      OPENWEATHER_CONCURRENCY: "8",
      ...env,
    },
    {},
  );
  const provider = createProvider(config, source, source === "openweather" ? { apiKey: API_KEY } : {});
  return ingestInterval(
    { provider, rawStore: raw, bronze: pgBronzeRepository(db.pool), policy, log },
    { interval: INTERVAL, sites, failureThreshold: 0.1 },
  );
}

async function bronzeChecksum(pool = db.pool): Promise<{ rows: number; sum: string }> {
  return tableChecksum(pool, "bronze.weather_observations");
}

/** Row count and an md5 over every column of every row, in a total order: equal means identical. */
async function tableChecksum(pool: pg.Pool, table: string): Promise<{ rows: number; sum: string }> {
  const { rows } = await pool.query(
    // change_xid marks which transaction wrote a bronze row (for the transform), not its content.
    `select count(*) as rows, md5(coalesce(string_agg(r, '|' order by r), '')) as sum
     from (select (to_jsonb(t) - 'change_xid')::text as r from ${table} t) as x`,
  );
  return rows[0];
}

describe("ingest", () => {
  it("lands one raw object per batch and a bronze row for every site", async () => {
    // Act
    const result = await ingest("open-meteo");
    // Assess
    expect(result.status).toBe("succeeded");
    expect(result.sitesOk).toBe(sites.length);
    expect(await raw.list("")).toEqual(result.rawObjectKeys);
    expect(result.rawObjectKeys).toEqual([
      expect.stringMatching(
        /^source=open-meteo\/date=2026-11-22\/hour=13\/interval=2026-11-22T13\/run=20\d{6}T\d{9}Z-[0-9a-f]{6}\/batch-0001-try-01\.json$/,
      ),
    ]);
    const { rows } = await db.pool.query(
      "select site_id, observed_at, ingestion_run_id, raw_object_key from bronze.weather_observations order by site_id",
    );
    expect(rows.map((r) => r.site_id)).toEqual(sites.map((s) => s.id).sort());
    expect(rows.every((r) => r.observed_at.toISOString() === "2026-11-22T13:00:00.000Z")).toBe(true);
    expect(rows[0].ingestion_run_id).toBe("open-meteo:2026-11-22T13");
    const dimension = await db.pool.query("select count(*) as n from silver.sites");
    expect(dimension.rows[0].n).toBe(sites.length);
    const run = await db.pool.query("select status, sites_ok, observations_loaded from ops.ingestion_runs");
    expect(run.rows).toEqual([
      { status: "succeeded", sites_ok: sites.length, observations_loaded: sites.length },
    ]);
  });

  it("is idempotent: the same interval three times leaves identical rows", async () => {
    await ingest("open-meteo");
    const first = await bronzeChecksum();
    await ingest("open-meteo");
    const third = await ingest("open-meteo");
    expect(await bronzeChecksum()).toEqual(first);
    expect(first.rows).toBe(sites.length);
    expect(third.rowsChanged).toBe(0);
    const { rows } = await db.pool.query("select attempt from ops.ingestion_runs");
    expect(rows).toEqual([{ attempt: 3 }]);
  });

  it("isolates a failing site: the others load, the run records why", async () => {
    // Prepare: OpenWeatherMap asks one site per request; Cairo always answers 500.
    const cairo = sites.find((s) => s.id === "cairo") as Site;
    const result = await ingest("openweather", [
      { at: { lat: cairo.lat, lon: cairo.lon }, fault: { kind: "server-error", status: 503 } },
    ]);
    // Assess
    expect(result.sitesOk).toBe(sites.length - 1);
    expect(result.sitesFailed).toBe(1);
    expect(result.status).toBe("succeeded"); // 1/22 is under the 10 % threshold
    const failed = result.sites.find((s) => s.siteId === "cairo");
    expect(failed?.status).toBe("failed");
    expect(failed?.reason).toMatch(/503/);
    const { rows } = await db.pool.query(
      "select status, reason from ops.ingestion_site_results where site_id = 'cairo'",
    );
    expect(rows[0].status).toBe("failed");
  });

  it("fails the run when the site failure ratio exceeds the threshold", async () => {
    const faulty = sites
      .slice(0, 3)
      .map((s) => ({ at: { lat: s.lat, lon: s.lon }, fault: { kind: "hang" } }) as FaultRule);
    const result = await ingest("openweather", faulty);
    expect(result.sitesFailed).toBe(3);
    expect(result.siteFailureRatio).toBeCloseTo(3 / sites.length);
    expect(result.status).toBe("failed");
  });

  it("quarantines a payload that breaks its contract, keeping it raw with the reason", async () => {
    const oslo = sites[0] as Site;
    const result = await ingest("open-meteo", [
      {
        at: { lat: oslo.lat, lon: oslo.lon },
        fault: { kind: "schema-drift", field: "current.temperature_2m" },
      },
    ]);
    expect(result.sitesQuarantined).toBeGreaterThanOrEqual(1);
    const { rows } = await db.pool.query("select site_id, reason, raw_object_key from bronze.quarantine");
    const entry = rows.find((r) => r.site_id === "oslo");
    expect(entry?.reason).toMatch(/temperature_2m/);
    const landed = JSON.parse(await raw.get(entry?.raw_object_key));
    expect(landed.body).toContain("temperature_2m");
  });

  it("lands error responses too, every attempt under its own key", async () => {
    const result = await ingest("open-meteo", [{ times: 1, fault: { kind: "server-error" } }]);
    expect(result.status).toBe("succeeded");
    expect(result.fetchLatenciesMs.length).toBe(2); // the 500, then the success
    const keys = await raw.list("");
    expect(keys.map((k) => k.slice(k.lastIndexOf("/") + 1))).toEqual([
      "batch-0001-try-01.json",
      "batch-0001-try-02.json",
    ]);
    const [first, second] = await Promise.all(keys.map(async (k) => JSON.parse(await raw.get(k))));
    expect([first.status, first.attempt, second.status, second.attempt]).toEqual([500, 1, 200, 2]);
    // Bronze names the object it was parsed from: the successful second attempt.
    expect(result.rawObjectKeys).toEqual([keys[1]]);
    const { rows } = await db.pool.query("select distinct raw_object_key from bronze.weather_observations");
    expect(rows).toEqual([{ raw_object_key: keys[1] }]);
  });

  it("never writes the API key to raw objects or logs", async () => {
    const log = memoryLog();
    const cairo = sites.find((s) => s.id === "cairo") as Site;
    await ingest(
      "openweather",
      [{ at: { lat: cairo.lat, lon: cairo.lon }, fault: { kind: "server-error" } }],
      log,
    );
    for (const key of await raw.list(""))
      expect(await readFile(join(rawDir, key), "utf8")).not.toContain(API_KEY);
    expect(JSON.stringify(log.entries)).not.toContain(API_KEY);
    expect(log.entries.length).toBeGreaterThan(0);
  });

  it("replays bronze exactly from raw after a truncate, with no API calls", async () => {
    // Prepare
    await ingest("open-meteo");
    await ingest("openweather");
    const before = await bronzeChecksum();
    await db.pool.query("truncate bronze.weather_observations");
    const requests = sim.stats().requests;
    // Act
    const config = loadConfig({}, {});
    const results = await replayIntervals(
      {
        rawStore: raw,
        bronze: pgBronzeRepository(db.pool),
        log: memoryLog(),
        providers: parsersFor(config),
      },
      { from: INTERVAL, to: INTERVAL, failureThreshold: 0.1 },
    );
    // Assess
    expect(results.map((r) => r.runId).sort()).toEqual([
      "open-meteo:2026-11-22T13",
      "openweather:2026-11-22T13",
    ]);
    expect(await bronzeChecksum()).toEqual(before);
    expect(before.rows).toBe(2 * sites.length);
    expect(sim.stats().requests).toBe(requests);
  });

  it("keeps every attempt of a rerun, and a replay into an empty database rebuilds bronze and quarantine identically", async () => {
    // Prepare: three runs of one hour that see different answers — Oslo breaks its contract, then
    // everything is fine 15 minutes later, then Cairo fails outright on OpenWeatherMap.
    const drifted = sites.slice(0, 1).map(
      (s): FaultRule => ({
        at: { lat: s.lat, lon: s.lon },
        fault: { kind: "schema-drift", field: "current.temperature_2m" },
      }),
    );
    const cairo = sites.find((s) => s.id === "cairo") as Site;
    await ingest("open-meteo", drifted);
    simNow = new Date(intervalStart(INTERVAL).getTime() + 15 * 60_000);
    await ingest("open-meteo");
    await ingest("openweather", [
      { at: { lat: cairo.lat, lon: cairo.lon }, fault: { kind: "server-error", status: 503 } },
    ]);
    const tables = ["bronze.weather_observations", "bronze.quarantine", "ops.ingestion_site_results"];
    const before = await Promise.all(tables.map((t) => tableChecksum(db.pool, t)));
    // Assess the live state: nothing overwritten, history kept, only current outcomes count.
    const keys = await raw.list("source=open-meteo/");
    expect(new Set(keys.map((k) => /\/run=([^/]+)\//.exec(k)?.[1])).size).toBe(2);
    const history = await db.pool.query("select count(*) as n from bronze.quarantine");
    expect(history.rows[0].n).toBe(1);
    const current = await db.pool.query("select count(*) as n from bronze.current_quarantine");
    expect(current.rows[0].n).toBe(0);
    for (const key of keys) expect(JSON.parse(await raw.get(key)).sites.length).toBeGreaterThan(0);
    // Act: replay everything into a fresh, empty database.
    const fresh = await createTestDatabase();
    try {
      await replayIntervals(
        {
          rawStore: raw,
          bronze: pgBronzeRepository(fresh.pool),
          log: memoryLog(),
          providers: parsersFor(loadConfig({}, {})),
        },
        { from: INTERVAL, to: INTERVAL, failureThreshold: 0.1 },
      );
      // Assess: byte-identical on every column, ledger outcomes included.
      expect(await Promise.all(tables.map((t) => tableChecksum(fresh.pool, t)))).toEqual(before);
    } finally {
      await fresh.destroy();
    }
    expect(before[0]?.rows).toBe(3 * sites.length - 2);
  });

  it("quarantines observations far from their interval with a clock reason", async () => {
    // Prepare: the API's clock is three hours ahead of the hour we ask for.
    simNow = new Date(intervalStart(INTERVAL).getTime() + 3 * 3_600_000);
    // Act
    const result = await ingest("open-meteo");
    // Assess
    expect(result.sitesQuarantined).toBe(sites.length);
    expect(result.status).toBe("failed");
    const { rows } = await db.pool.query("select reason, excerpt from bronze.current_quarantine");
    expect(rows).toHaveLength(sites.length);
    expect(rows[0].reason).toMatch(
      /^clock: observed at 2026-11-22T16:00:00.000Z, 120 min outside interval 2026-11-22T13/,
    );
    expect(rows[0].excerpt.length).toBeGreaterThan(0);
    const bronze = await db.pool.query("select count(*) as n from bronze.weather_observations");
    expect(bronze.rows[0].n).toBe(0);
  });

  it("replays in bounded memory: an oversized or stray object is skipped by name, the run fails, the rest loads", async () => {
    // Prepare: a good run, then two objects no replay should load — one too large, one not an envelope.
    const good = await ingest("open-meteo");
    const prefix = good.rawObjectKeys[0]?.replace(/run=.*$/, "") as string;
    await raw.put(`${prefix}run=99999999T999999999Z-ffffff/batch-0001-try-01.json`, "x".repeat(200_000));
    await raw.put(`${prefix}run=99999999T999999999Z-ffffff/batch-0002-try-01.json`, '{"hello": "world"}');
    await db.pool.query("truncate bronze.weather_observations");
    // Act
    const [result] = await replayIntervals(
      {
        rawStore: raw,
        bronze: pgBronzeRepository(db.pool),
        log: memoryLog(),
        providers: parsersFor(loadConfig({}, {})),
      },
      {
        from: INTERVAL,
        to: INTERVAL,
        sources: ["open-meteo"],
        failureThreshold: 0.1,
        maxObjectBytes: 100_000,
      },
    );
    // Assess
    expect(result?.status).toBe("failed");
    expect(result?.skippedObjects?.map((s) => s.reason)).toEqual([
      expect.stringMatching(/is 200000 bytes, over the 100000 bytes a reader takes \(RAW_MAX_OBJECT_BYTES\)/),
      "not a raw envelope (version 1 with sites and body)",
    ]);
    expect(result?.observationsLoaded).toBe(sites.length);
    const { rows } = await db.pool.query("select status, error from ops.ingestion_runs");
    expect(rows[0].status).toBe("failed");
    expect(rows[0].error).toMatch(/^2 raw object\(s\) not replayed/);
  });
});

describe("weighted calls in the ledger", () => {
  const weightedCalls = async () =>
    (await db.pool.query("select weighted_calls from ops.ingestion_runs")).rows.map((r) => r.weighted_calls);

  it("records each run's weighted calls, retries included, and adds a rerun's to them", async () => {
    // Act: 22 sites in one Open-Meteo request (10 variables, one day: 1 per location), answered 503 once.
    await ingest("open-meteo", [
      { api: "open-meteo", times: 1, fault: { kind: "server-error", status: 503 } },
    ]);
    // Assess: two requests of weight 22.
    expect(await weightedCalls()).toEqual([2 * sites.length]);
    await ingest("open-meteo");
    expect(await weightedCalls()).toEqual([3 * sites.length]);
    const usage = await pgBronzeRepository(db.pool).weightedCallsSince(
      "open-meteo",
      new Date(Date.now() - 60_000),
    );
    expect(usage).toEqual([{ at: expect.any(Date), weightedCalls: 3 * sites.length }]);
    expect(await pgBronzeRepository(db.pool).weightedCallsSince("openweather", new Date(0))).toEqual([]);
  });

  it("makes the next run, in any process, start from the day's usage so far", async () => {
    // Prepare: one run spent 22 of a day's 30.
    await ingest("open-meteo");
    // Act: a new process's limiter for the same source, seeded from the shared ledger.
    const limiter = await ledgerSeededLimiter(
      "open-meteo",
      { perMinute: 600, perHour: 5_000, perDay: 30 },
      pgBronzeRepository(db.pool),
    );
    // Assess: 22 more would break the day quota, so it waits (it is not rejected: it fits tomorrow).
    expect(limiter.usage()).toEqual({ minute: sites.length, hour: sites.length, day: sites.length });
    const stop = new AbortController();
    const next = limiter.acquire(sites.length, stop.signal);
    await new Promise((r) => setTimeout(r, 50));
    expect(limiter.pending).toBe(1);
    stop.abort(new Error("test over"));
    await expect(next).rejects.toThrow("test over");
  });

  it("refuses, before fetching anything, a batch heavier than a whole window", async () => {
    const run = ingest("open-meteo", [], memoryLog(), { OPEN_METEO_CALLS_PER_MINUTE: "10" });
    await expect(run).rejects.toBeInstanceOf(WeightExceedsLimitError);
    await expect(run).rejects.toThrow(/OPEN_METEO_CALLS_PER_MINUTE.*OPEN_METEO_BATCH_SIZE/s);
    expect(await raw.list("")).toEqual([]);
    expect(await weightedCalls()).toEqual([]);
  });
});
