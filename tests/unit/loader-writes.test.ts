/**
 * How a history run's bronze writes overlap (core/use-cases/ingest.ts `EnvelopeLoader`): requests
 * cover disjoint site-hours, so two writes may run side by side on a server, never more than the
 * repository allows, and the embedded database (one session) still gets one write at a time. Parsing
 * goes on while a write runs; a write that fails fails only its request's sites, and so does a raw
 * landing that fails (landings run beside the next request, core/use-cases/ingest.ts attemptLandings). In-memory bronze
 * (tests/helpers/fakes.ts) with slow upserts, a fake Open-Meteo (tests/helpers/fake-open-meteo.ts).
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, parseInterval } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import type { BronzeRow } from "#core/ports.ts";
import type { HttpPolicy } from "#core/providers/http.ts";
import { createProvider } from "#core/providers/index.ts";
import { fetchHistory } from "#core/use-cases/history.ts";
import { fakeOpenMeteo } from "../helpers/fake-open-meteo.ts";
import { memoryBronze, memoryRawStore } from "../helpers/fakes.ts";

const NOW = new Date("2026-11-23T21:50:00Z");
const I = (s: string): Interval => parseInterval(s);
const policy: HttpPolicy = { timeoutMs: 2_000, maxAttempts: 1, backoffBaseMs: 1, backoffMaxMs: 2 };
// 300 sites in batches of 50 over 14 days (one request window): 6 requests of 16,800 rows each,
// more than HISTORY_FLUSH_ROWS, so each request is one write.
const SITES: Site[] = Array.from({ length: 300 }, (_, i) => ({
  id: `site-${String(i).padStart(3, "0")}`,
  name: `Site ${i}`,
  lat: -60 + ((i * 7.31) % 120),
  lon: -179 + ((i * 13.7) % 358),
  timezone: "UTC",
  country: "XX",
}));
const FROM = I("2026-08-01T00");
const TO = I("2026-08-14T23");

/** In-memory bronze whose upserts take a while and record how many ran at once. */
function slowBronze(maxConcurrentWrites: number, failWhen?: (rows: BronzeRow[]) => boolean) {
  const bronze = Object.assign(memoryBronze(), { maxConcurrentWrites });
  const inner = bronze.upsertObservations.bind(bronze);
  const seen = { running: 0, most: 0, writes: 0 };
  bronze.upsertObservations = async (rows) => {
    seen.running += 1;
    seen.most = Math.max(seen.most, seen.running);
    seen.writes += 1;
    try {
      await new Promise((r) => setTimeout(r, 30));
      if (failWhen?.(rows)) throw new Error("connection terminated unexpectedly");
      return await inner(rows);
    } finally {
      seen.running -= 1;
    }
  };
  return { bronze, seen };
}

async function run(bronze: ReturnType<typeof slowBronze>["bronze"], rawStore = memoryRawStore()) {
  const config = loadConfig({ OPEN_METEO_BATCH_SIZE: "50", OPEN_METEO_CONCURRENCY: "4" }, {});
  return fetchHistory(
    {
      provider: createProvider(config, "open-meteo"),
      rawStore,
      bronze,
      policy,
      log: memoryLog(),
      fetchImpl: fakeOpenMeteo().fetch,
      clock: () => NOW,
    },
    { sites: SITES, from: FROM, to: TO },
  );
}

const HOURS = 14 * 24;

describe("history bronze writes", () => {
  it("run two at a time on a server, one request per write, and land every site-hour", async () => {
    // Prepare
    const { bronze, seen } = slowBronze(2);
    // Act
    const result = await run(bronze);
    // Assess
    expect(result.sitesOk).toBe(SITES.length);
    expect(bronze.rows.size).toBe(SITES.length * HOURS);
    expect(result.observationsLoaded).toBe(SITES.length * HOURS);
    expect(seen.most).toBe(2);
    expect(seen.writes).toBe(6);
  });

  it("never run more at once than the repository allows (embedded: one)", async () => {
    const { bronze, seen } = slowBronze(1);
    const result = await run(bronze);
    expect(result.sitesOk).toBe(SITES.length);
    expect(bronze.rows.size).toBe(SITES.length * HOURS);
    expect(seen.most).toBe(1);
  });

  it("a write that fails fails only its request's sites, counted as a DbError", async () => {
    // Prepare: the write holding site-100's rows (the third request: sites 100-149) fails.
    const { bronze, seen } = slowBronze(2, (rows) => rows.some((r) => r.siteId === "site-100"));
    // Act
    const result = await run(bronze);
    // Assess
    const failed = result.sites.filter((s) => s.status === "failed").map((s) => s.siteId);
    expect(failed).toEqual(SITES.slice(100, 150).map((s) => s.id));
    for (const s of result.sites.filter((x) => x.status === "failed"))
      expect(s.reason).toMatch(/database write failed: connection terminated unexpectedly/);
    expect(result.dbErrors).toBe(1);
    expect(bronze.rows.size).toBe((SITES.length - 50) * HOURS);
    expect(seen.most).toBe(2);
  });

  it("a raw landing that fails fails only its request's sites, and nothing unlanded is loaded", async () => {
    // Prepare: the third request's landing fails (sites 100-149).
    const raw = memoryRawStore();
    raw.failPut = (key) =>
      key.includes("/batch-0003-") ? new Error("SlowDown: reduce your request rate") : undefined;
    const { bronze } = slowBronze(2);
    // Act
    const result = await run(bronze, raw);
    // Assess
    const failed = result.sites.filter((s) => s.status === "failed");
    expect(failed.map((s) => s.siteId)).toEqual(SITES.slice(100, 150).map((s) => s.id));
    for (const s of failed) expect(s.reason).toMatch(/could not fetch or land request 3: SlowDown/);
    expect(bronze.rows.size).toBe((SITES.length - 50) * HOURS);
    for (const row of bronze.rows.values()) expect(raw.objects.has(row.rawObjectKey)).toBe(true);
  });
});
