/**
 * `weather backfill` as a user runs it: coverage-driven, so every missing site-hour is refilled where
 * the source can serve it, and whatever stays missing is named with exit 1 — never "0 obs, exit 0".
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "#core/adapters/database.ts";
import { openEmbeddedDatabase } from "#core/adapters/embedded-database.ts";
import { intervalOf } from "#core/domain/interval.ts";
import { weather as runWeather } from "../faults/support/cli.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const SITES = [
  { id: "oslo", name: "Oslo", lat: 59.91, lon: 10.75, timezone: "Europe/Oslo", country: "NO" },
  { id: "lima", name: "Lima", lat: -12.05, lon: -77.04, timezone: "America/Lima", country: "PE" },
  { id: "perth", name: "Perth", lat: -31.95, lon: 115.86, timezone: "Australia/Perth", country: "AU" },
];

let home: string;
let sitesFile: string;
let server: TestDatabase | undefined;
let dbArgs: string[] = [];

function weather(env: Record<string, string>, ...args: string[]) {
  const argv = [...args, "--home", home, "--sites", sitesFile, "--json", ...dbArgs];
  return runWeather(argv, { env, timeoutMs: 120_000 });
}

/** The database the CLI used: the server's, or the embedded one opened while no CLI holds it. */
async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const db = server ?? (await openEmbeddedDatabase(join(home, "pg")));
  try {
    return await fn(db);
  } finally {
    if (!server) await db.close();
  }
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "wdo-backfill-"));
  sitesFile = join(home, "sites.json");
  await writeFile(sitesFile, JSON.stringify(SITES));
  if (process.env.DATABASE_URL) {
    server = await createTestDatabase({ migrate: false });
    dbArgs = ["--db", server.url];
  }
});
afterAll(async () => {
  await server?.destroy();
  await rm(home, { recursive: true, force: true });
});

describe("weather backfill", () => {
  it("fills a range from the simulator, then refills a removed site-hour from raw without fetching", async () => {
    // Act: an empty warehouse, three past hours.
    const first = await weather(
      {},
      "backfill",
      "--source",
      "simulator",
      "--from",
      "2026-11-20T00",
      "--to",
      "2026-11-20T02",
    );
    // Assess
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({ siteHoursStillMissing: 0, failed: false });
    // The current hour is served first (a long backfill never starves it); then the range, oldest first.
    const range = report.steps.filter((s: { currentHour?: boolean }) => !s.currentHour);
    expect(range.map((s: { interval: string }) => s.interval)).toEqual([
      "2026-11-20T00",
      "2026-11-20T01",
      "2026-11-20T02",
    ]);
    expect(
      range.every(
        (s: { missingBefore: number; fetched: number }) => s.missingBefore === 3 && s.fetched === 3,
      ),
    ).toBe(true);
    expect(report.steps.every((s: { workflow: string }) => s.workflow === "succeeded")).toBe(true);
    // The past hours came from the history API in one request group, and ONE bulk transform covered
    // them: no workflow per hour (only the current hour, served live, has its own).
    expect(report.history.requests).toEqual([
      expect.objectContaining({ from: "2026-11-20T00", to: "2026-11-20T02", status: "succeeded" }),
    ]);
    expect(report.history.transform).toMatchObject({
      from: "2026-11-20T00",
      to: "2026-11-20T02",
      status: "succeeded",
    });
    const runs = await withDb(async (db) => {
      const r = await db.pool.query(
        `select mode, trigger, count(*)::int as n from ops.transform_runs
         where window_start < '2026-11-21' group by 1, 2 order by 1, 2`,
      );
      return r.rows;
    });
    expect(runs).toEqual([{ mode: "range", trigger: "backfill", n: 2 }]); // silver and gold
    const kinds = await withDb(async (db) => {
      const r = await db.pool.query(
        "select distinct kind from bronze.weather_observations where observed_at < '2026-11-21'",
      );
      return r.rows.map((x) => x.kind);
    });
    expect(kinds).toEqual(["forecast"]); // the forecast API's past hours

    // Prepare: lose one site-hour from bronze (its raw objects stay).
    await withDb((db) =>
      db.pool.query(
        "delete from bronze.weather_observations where site_id = 'lima' and observed_at = '2026-11-20T01:00Z'",
      ),
    );
    // Act
    const second = await weather(
      {},
      "backfill",
      "--source",
      "simulator",
      "--from",
      "2026-11-20T00",
      "--to",
      "2026-11-20T02",
    );
    // Assess: replayed from the history fetch's raw objects, nothing fetched, complete again.
    expect(second.code).toBe(0);
    const again = JSON.parse(second.stdout);
    expect(again.steps).toEqual([
      expect.objectContaining({ interval: "2026-11-20T01", missingBefore: 1, fetched: 0, stillMissing: [] }),
    ]);
    expect(again.steps[0].replayed).toBeGreaterThan(0);
    const rows = await withDb(async (db) => {
      const r = await db.pool.query("select count(*)::int as n from bronze.weather_observations");
      return r.rows[0].n;
    });
    expect(rows).toBe(9 + 3); // the range, and the current hour
  }, 120_000);

  it("exits 1 naming what is still missing when the source cannot be reached", async () => {
    // Prepare: the live source, pointed at a loopback port nothing listens on (no network).
    const env = { OPEN_METEO_BASE_URL: "http://127.0.0.1:9", HTTP_MAX_ATTEMPTS: "1" };
    const now = intervalOf(new Date());
    // Act
    const result = await weather(env, "backfill", "--source", "open-meteo", "--from", now, "--to", now);
    // Assess
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ siteHoursStillMissing: 3, siteHoursFilled: 0, failed: true });
    expect(report.steps[0].reason).toMatch(/^fetch did not fill it: network error/);
  }, 120_000);

  it("stops before fetching history, exit 1, when the estimate does not fit today's quota", async () => {
    // Prepare: a quota of 10 weighted calls per window. The current hour (weight 3) is served live
    // first and fits; 40 days × 3 sites need three 14-day windows (weight 9) while at most 7 are left.
    const env = {
      OPEN_METEO_BASE_URL: "http://127.0.0.1:9",
      OPEN_METEO_ARCHIVE_URL: "http://127.0.0.1:9",
      HTTP_MAX_ATTEMPTS: "1",
      OPEN_METEO_CALLS_PER_MINUTE: "10",
      OPEN_METEO_CALLS_PER_HOUR: "10",
      OPEN_METEO_CALLS_PER_DAY: "10",
    };
    // Act
    const result = await weather(
      env,
      "backfill",
      "--source",
      "open-meteo",
      "--from",
      "2026-10-01T00",
      "--to",
      "2026-11-09T23",
    );
    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /history: 3 requests, 9 weighted calls; [\d.]+ of 10 used today; does NOT fit today/,
    );
    const report = JSON.parse(result.stdout);
    expect(report.history.stopped).toMatch(
      /needs 9 weighted calls and only [\d.]+ of today's 10 are left .*rerun with --pace/,
    );
    expect(report.history.requests).toEqual([]);
    const past = report.steps.find((s: { interval: string }) => s.interval === "2026-10-01T00");
    expect(past.reason).toMatch(/^history was not fetched: it needs/);
    const historyRuns = await withDb(async (db) => {
      const r = await db.pool.query(
        "select count(*)::int as n from ops.ingestion_runs where run_id like 'open-meteo:history:%'",
      );
      return r.rows[0].n;
    });
    expect(historyRuns).toBe(0);
  }, 120_000);

  it("weather run --history-days 1: the hour, then the day before it from history, so gold has curves", async () => {
    // Act
    const result = await weather({}, "run", "--source", "simulator", "--history-days", "1");
    // Assess: the run's hour and the 24 before it, for every site, in bronze and gold. (Bounded above:
    // a run that crosses an hour boundary also serves the new current hour, by design.)
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.history).toMatchObject({ siteHoursStillMissing: 0, failed: false, stopped: null });
    expect(doc.history.transform).toMatchObject({ status: "succeeded" });
    const counts = await withDb(async (db) => {
      const r = await db.pool.query(
        `select (select count(*)::int from bronze.weather_observations where observed_at between $1 and $2) as bronze,
                (select count(*)::int from gold_internal.site_hourly where hour between $1 and $2) as gold`,
        [new Date(Date.parse(`${doc.history.from}:00:00Z`)), new Date(Date.parse(`${doc.interval}:00:00Z`))],
      );
      return r.rows[0];
    });
    expect(counts).toEqual({ bronze: 25 * 3, gold: 25 * 3 });
  }, 120_000);

  it("weather run --history-days rejects a value outside 1..92 with exit 2", async () => {
    const result = await weather({}, "run", "--source", "simulator", "--history-days", "93");
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/--history-days must be a whole number from 1 to 92/);
  }, 60_000);
});
