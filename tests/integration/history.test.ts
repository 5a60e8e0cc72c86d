/**
 * History end to end on a real database (PGlite, or Postgres with DATABASE_URL), a real filesystem
 * raw store and a fake fetch that answers like Open-Meteo's forecast and archive endpoints: bronze rows
 * by kind, the ledger, a failed request's raw envelope and reason, and replay from raw.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, parseInterval } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import type { RawEnvelope, RawStore } from "#core/ports.ts";
import type { HttpPolicy } from "#core/providers/http.ts";
import { createProvider, parsersFor } from "#core/providers/index.ts";
import { fetchHistory, type HistoryProgress } from "#core/use-cases/history.ts";
import { replayHistory, replayIntervals } from "#core/use-cases/replay.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { type FakeOpenMeteo, fakeOpenMeteo } from "../helpers/fake-open-meteo.ts";

const NOW = new Date("2026-11-23T21:50:00Z");
const I = (s: string): Interval => parseInterval(s);
const policy: HttpPolicy = { timeoutMs: 500, maxAttempts: 2, backoffBaseMs: 1, backoffMaxMs: 2 };
const site = (id: string, lat: number, lon: number): Site => ({
  id,
  name: id,
  lat,
  lon,
  timezone: "UTC",
  country: "XX",
});
const SITES = [
  site("berlin", 52.52, 13.405),
  site("paris", 48.8566, 2.3522),
  site("lima", -12.0464, -77.0428),
];
const config = loadConfig({ OPEN_METEO_BATCH_SIZE: "2" }, {});

let db: TestDatabase;
let rawDir: string;
let raw: RawStore;
let api: FakeOpenMeteo;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.destroy();
});
beforeEach(async () => {
  if (rawDir) await rm(rawDir, { recursive: true, force: true });
  rawDir = await mkdtemp(join(tmpdir(), "wdo-history-"));
  raw = fsRawStore(rawDir);
  api = fakeOpenMeteo();
  await db.pool.query(
    "truncate bronze.weather_observations, bronze.quarantine, ops.ingestion_runs, ops.ingestion_site_results",
  );
});

function history(from: string, to: string, opts: { runToken?: string; progress?: HistoryProgress[] } = {}) {
  return fetchHistory(
    {
      provider: createProvider(config, "open-meteo"),
      rawStore: raw,
      bronze: pgBronzeRepository(db.pool),
      policy,
      log: memoryLog(),
      fetchImpl: api.fetch,
      clock: () => NOW,
      runToken: opts.runToken,
    },
    { sites: SITES, from: I(from), to: I(to), onProgress: (p) => opts.progress?.push(p) },
  );
}

/** Row count and an md5 over every column of every row, in a total order: equal means identical. */
async function checksum(pool: pg.Pool, table: string): Promise<{ rows: number; sum: string }> {
  const { rows } = await pool.query(
    `select count(*) as rows, md5(coalesce(string_agg(r, '|' order by r), '')) as sum
     from (select (to_jsonb(t) - 'change_xid' - 'quarantine_id')::text as r from ${table} t) as x`,
  );
  return rows[0];
}

describe("fetchHistory", () => {
  it("loads every site-hour across the 92-day boundary: archive before it, forecast after, one ledger run", async () => {
    // Prepare: 2026-08-23T00 is the first forecast hour at NOW.
    const progress: HistoryProgress[] = [];
    // Act
    const result = await history("2026-08-22T20", "2026-08-23T03", {
      runToken: "20261123T215000000Z-aaaaaa",
      progress,
    });
    // Assess
    expect(result).toMatchObject({
      runId: "open-meteo:history:20261123T215000000Z-aaaaaa",
      rangeLabel: "2026-08-22T20..2026-08-23T03",
      status: "succeeded",
      sitesOk: 3,
      observationsLoaded: 3 * 8,
      requests: 4,
      weightedCalls: 6,
    });
    expect(api.calls.map((u) => new URL(u).pathname)).toEqual(
      ["/v1/archive", "/v1/archive", "/v1/forecast", "/v1/forecast"].sort(),
    );
    expect(progress.map((p) => p.requestsDone)).toEqual([1, 2, 3, 4]);
    expect(await raw.list("")).toEqual(result.rawObjectKeys);
    expect(result.rawObjectKeys[0]).toBe(
      "source=open-meteo/history/run=20261123T215000000Z-aaaaaa/range=2026-08-22T20..2026-08-22T23/batch-0001-try-01.json",
    );
    const { rows } = await db.pool.query(
      `select to_char(observed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24') as hour, count(*)::int as n,
              min(payload ->> 'time') as time, min(precipitation_window_minutes) as w
       from bronze.weather_observations group by 1 order by 1`,
    );
    expect(rows.map((r) => [r.hour, r.n, r.w])).toEqual(
      [
        "2026-08-22T20",
        "2026-08-22T21",
        "2026-08-22T22",
        "2026-08-22T23",
        "2026-08-23T00",
        "2026-08-23T01",
        "2026-08-23T02",
        "2026-08-23T03",
      ].map((h) => [h, 3, 60]),
    );
    const ledger = await db.pool.query("select run_id, interval, status, sites_ok from ops.ingestion_runs");
    expect(ledger.rows).toEqual([
      {
        run_id: "open-meteo:history:20261123T215000000Z-aaaaaa",
        interval: "2026-08-22T20..2026-08-23T03",
        status: "succeeded",
        sites_ok: 3,
      },
    ]);
  });

  it("a failed request leaves its raw envelope and a clear reason for its sites; the other requests load", async () => {
    // Prepare: the archive is down for the first batch (503 on both attempts), answers the second.
    let archiveCalls = 0;
    api.fail(
      (u) =>
        u.pathname === "/v1/archive" &&
        u.searchParams.get("latitude")?.startsWith("52.52") === true &&
        ++archiveCalls > 0,
      503,
      JSON.stringify({ error: true, reason: "Service temporarily unavailable" }),
    );
    // Act
    const result = await history("2026-01-01T00", "2026-01-01T05", {
      runToken: "20261123T215000000Z-bbbbbb",
    });
    // Assess
    expect(result.sitesFailed).toBe(2);
    expect(result.status).toBe("failed");
    const failed = result.sites.filter((s) => s.status === "failed");
    expect(failed.map((s) => s.siteId)).toEqual(["berlin", "paris"]);
    expect(failed[0]?.reason).toBe(
      "2026-01-01T00..2026-01-01T05: HTTP 503 after 2 attempts: Service temporarily unavailable",
    );
    // Both attempts landed, the last one is the one the outcome names.
    const key = failed[0]?.rawObjectKey ?? "";
    expect(key).toMatch(/batch-0001-try-02\.json$/);
    expect(await raw.list("source=open-meteo/history/")).toContain(key.replace("try-02", "try-01"));
    const landed = JSON.parse(await raw.get(key)) as RawEnvelope;
    expect(landed).toMatchObject({
      status: 503,
      attempt: 2,
      range: { from: "2026-01-01T00", to: "2026-01-01T05" },
    });
    expect(landed.body).toContain("Service temporarily unavailable");
    const ledger = await db.pool.query(
      "select site_id, status, reason from ops.ingestion_site_results order by site_id",
    );
    expect(ledger.rows.map((r) => [r.site_id, r.status])).toEqual([
      ["berlin", "failed"],
      ["lima", "ok"],
      ["paris", "failed"],
    ]);
    const bronze = await db.pool.query("select distinct site_id from bronze.weather_observations");
    expect(bronze.rows).toEqual([{ site_id: "lima" }]);
  });

  it("a broken body quarantines that site with the field named, in bronze.quarantine with the range", async () => {
    api.tamper((loc, i) => {
      if (i === 1) (loc.hourly as Record<string, unknown[]>).wind_gusts_10m?.pop();
    });
    const result = await history("2026-11-20T00", "2026-11-20T03");
    expect(result.sites.find((s) => s.siteId === "paris")).toMatchObject({
      status: "quarantined",
      reason: "2026-11-20T00..2026-11-20T03: schema drift: [1].hourly.wind_gusts_10m: length 3, expected 4",
    });
    const q = await db.pool.query("select site_id, interval, reason from bronze.quarantine");
    expect(q.rows).toEqual([
      {
        site_id: "paris",
        interval: "2026-11-20T00..2026-11-20T03",
        reason: "schema drift: [1].hourly.wind_gusts_10m: length 3, expected 4",
      },
    ]);
  });
});

describe("replayHistory", () => {
  it("rebuilds identical bronze and quarantine rows from the history objects alone", async () => {
    // Prepare: two runs (a backfill, then a refetch of part of it), one site quarantined in the first.
    api.tamper((loc, i) => {
      if (i === 1) delete (loc.hourly as Record<string, unknown>).precipitation;
    });
    await history("2026-08-20T00", "2026-08-24T23", { runToken: "20261123T215000000Z-cccccc" });
    api.tamper(null);
    await history("2026-08-22T00", "2026-08-22T05", { runToken: "20261123T215100000Z-dddddd" });
    const bronze = await checksum(db.pool, "bronze.weather_observations");
    const quarantine = await checksum(db.pool, "bronze.quarantine");
    expect(bronze.rows).toBeGreaterThan(0);
    await db.pool.query("truncate bronze.weather_observations, bronze.quarantine");
    const deps = {
      rawStore: raw,
      bronze: pgBronzeRepository(db.pool),
      log: memoryLog(),
      providers: parsersFor(config),
    };
    // Act: an hour of an object selects it whole (03 → the archive object 08-20..08-22, 08-23T00 → the
    // forecast one 08-23..08-24); the live replay of those hours finds nothing.
    const results = await replayHistory(deps, { from: I("2026-08-22T03"), to: I("2026-08-23T00") });
    const live = await replayIntervals(deps, {
      from: I("2026-08-22T03"),
      to: I("2026-08-22T03"),
      failureThreshold: 0.1,
    });
    // Assess
    expect(results.map((r) => r.runId)).toEqual([
      "open-meteo:history:20261123T215000000Z-cccccc",
      "open-meteo:history:20261123T215100000Z-dddddd",
    ]);
    expect(live).toEqual([]);
    expect(await checksum(db.pool, "bronze.weather_observations")).toEqual(bronze);
    expect(await checksum(db.pool, "bronze.quarantine")).toEqual(quarantine);
    const ledger = await db.pool.query("select interval, attempt from ops.ingestion_runs order by run_id");
    expect(ledger.rows).toEqual([
      { interval: "2026-08-20T00..2026-08-24T23", attempt: 2 },
      { interval: "2026-08-22T00..2026-08-22T05", attempt: 2 },
    ]);
  });

  it("a range no history object overlaps replays nothing", async () => {
    await history("2026-11-20T00", "2026-11-20T03");
    const deps = {
      rawStore: raw,
      bronze: pgBronzeRepository(db.pool),
      log: memoryLog(),
      providers: parsersFor(config),
    };
    expect(await replayHistory(deps, { from: I("2026-11-20T04"), to: I("2026-11-21T00") })).toEqual([]);
  });
});
