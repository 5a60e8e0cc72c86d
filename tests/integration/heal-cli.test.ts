/**
 * `weather heal` as the Kind CronJob and a person run it: the last N days of complete hours refilled
 * from the simulator's history into bronze, silver and gold; a deleted site-hour refilled by exactly
 * one request for that site and hour; a gap that survives named, with exit 1.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "#core/adapters/database.ts";
import { openEmbeddedDatabase } from "#core/adapters/embedded-database.ts";
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

const SITE_HOURS = `
  select count(*)::int as n from (
    select distinct site_id, date_trunc('hour', observed_at) from bronze.weather_observations
    where observed_at >= ($1 || ':00:00Z')::timestamptz and observed_at < ($2 || ':00:00Z')::timestamptz + interval '1 hour'
  ) t`;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "wdo-heal-"));
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

describe("weather heal", () => {
  let window: { from: string; to: string };

  it("fills the last day of complete hours from the simulator's history, into silver and gold too", async () => {
    const first = await weather({}, "heal", "--days", "1", "--source", "simulator");
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({
      window: { days: 1 },
      sitesChecked: 3,
      siteHoursMissingBefore: 72,
      siteHoursFilled: 72,
      gapsRemaining: 0,
      transform: { status: "succeeded" },
      failed: false,
    });
    expect(report.requests).toHaveLength(1);
    window = report.window;
    await withDb(async (db) => {
      const n = async (sql: string) => (await db.pool.query(sql, [window.from, window.to])).rows[0].n;
      expect(await n(SITE_HOURS)).toBe(72);
      const inWindow = "hour between ($1 || ':00:00Z')::timestamptz and ($2 || ':00:00Z')::timestamptz";
      expect(await n(`select count(*)::int as n from silver.observations where ${inWindow}`)).toBe(72);
      expect(await n(`select count(*)::int as n from gold_internal.site_hourly where ${inWindow}`)).toBe(72);
    });
  });

  it("refills a deleted site-hour with one request for that site and hour, and nothing else", async () => {
    // Prepare: remove lima's hour 5 of the window from every layer.
    const hour = await withDb(async (db) => {
      const h = (
        await db.pool.query(
          "select to_char(($1 || ':00:00Z')::timestamptz + interval '5 hours', 'YYYY-MM-DD\"T\"HH24') as h",
          [window.from],
        )
      ).rows[0].h as string;
      const at = `${h}:00:00Z`;
      await db.pool.query(
        `delete from bronze.weather_observations
         where site_id = 'lima' and observed_at >= $1::timestamptz and observed_at < $1::timestamptz + interval '1 hour'`,
        [at],
      );
      for (const t of ["silver.observations", "gold_internal.site_hourly"])
        await db.pool.query(`delete from ${t} where site_id = 'lima' and hour = $1::timestamptz`, [at]);
      return h;
    });

    // Act: the clock may have moved on by an hour since; a one-day heal still covers that hour.
    const second = await weather({}, "heal", "--days", "1", "--source", "simulator");

    // Assess
    expect(second.code, second.stderr).toBe(0);
    const report = JSON.parse(second.stdout);
    const gap = report.perSite.find((s: { siteId: string }) => s.siteId === "lima");
    expect(gap).toEqual({ siteId: "lima", missingBefore: 1, filled: 1, remaining: [] });
    // Unless the hour turned since the first heal (then the newly complete hour is a gap for every
    // site, and one request covers both), exactly one request for that site and hour.
    if (report.window.to === window.to)
      expect(report.requests).toEqual([
        expect.objectContaining({ from: hour, to: hour, siteIds: ["lima"], status: "succeeded" }),
      ]);
    await withDb(async (db) => {
      const at = `${hour}:00:00Z`;
      const q = async (sql: string) => (await db.pool.query(sql, [at])).rows[0].n;
      expect(
        await q(`select count(*)::int as n from bronze.weather_observations
                 where site_id = 'lima' and observed_at >= $1::timestamptz and observed_at < $1::timestamptz + interval '1 hour'`),
      ).toBe(1);
      expect(
        await q("select count(*)::int as n from silver.observations where site_id = 'lima' and hour = $1"),
      ).toBe(1);
      expect(
        await q(
          "select count(*)::int as n from gold_internal.site_hourly where site_id = 'lima' and hour = $1",
        ),
      ).toBe(1);
    });
  });

  it("a gap the source cannot fill is named, with exit 1", async () => {
    await withDb((db) =>
      db.pool.query(
        "delete from bronze.weather_observations where site_id = 'perth' and observed_at >= ($1 || ':00:00Z')::timestamptz and observed_at < ($1 || ':00:00Z')::timestamptz + interval '1 hour'",
        [window.to],
      ),
    );
    // Nothing listens there: every request fails at once.
    const r = await weather(
      { SIMULATOR_URL: "http://127.0.0.1:9", HTTP_MAX_ATTEMPTS: "1" },
      "heal",
      "--days",
      "1",
      "--source",
      "simulator",
    );
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ gapsRemaining: 1, failed: true });
    expect(report.perSite).toEqual([
      { siteId: "perth", missingBefore: 1, filled: 0, remaining: [window.to] },
    ]);
    expect(report.requests[0].status).toBe("failed");
    expect(report.requests[0].reason).toBeTruthy();
  });

  it("rejects --days outside 1..92 before touching anything (exit 2)", async () => {
    const r = await weather({}, "heal", "--days", "93");
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.message).toMatch(/--days/);
  });
});
