/**
 * The ingest use case when an adapter fails under it, with in-memory fakes of the raw store and bronze
 * (tests/helpers/fakes.ts) and the loopback simulator as the API: a raw landing that fails costs only
 * its batch, a bronze write that fails is counted as a DbError and loses nothing (raw replays it).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "#core/config/env.ts";
import { DatabaseUnavailableError } from "#core/db/errors.ts";
import { intervalStart, parseInterval } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import type { HttpPolicy } from "#core/providers/http.ts";
import { createProvider, parsersFor } from "#core/providers/index.ts";
import { ingestInterval } from "#core/use-cases/ingest.ts";
import { replayIntervals } from "#core/use-cases/replay.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";
import { memoryBronze, memoryRawStore } from "../helpers/fakes.ts";

const INTERVAL = parseInterval("2026-11-22T13");
const policy: HttpPolicy = { timeoutMs: 2_000, maxAttempts: 2, backoffBaseMs: 5, backoffMaxMs: 20 };
const sites: Site[] = Array.from({ length: 6 }, (_, i) => ({
  id: `site-${i + 1}`,
  name: `Site ${i + 1}`,
  lat: 40 + i,
  lon: -3 + i,
  timezone: "Europe/Madrid",
  country: "ES",
}));
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ clock: () => intervalStart(INTERVAL) });
});
afterAll(async () => {
  await sim?.close();
});

// Two sites per request: three batches.
const config = () => loadConfig({ OPEN_METEO_BATCH_SIZE: "2" }, {});
const provider = () => createProvider(config(), "open-meteo", { baseUrl: sim.url });

describe("ingest when an adapter fails", () => {
  it("a raw landing that fails fails only its batch's sites, with the store's error", async () => {
    // Prepare
    const raw = memoryRawStore();
    raw.failPut = (key) =>
      key.includes("/batch-0002-") ? new Error("SlowDown: reduce your request rate") : undefined;
    const bronze = memoryBronze();

    // Act
    const result = await ingestInterval(
      { provider: provider(), rawStore: raw, bronze, policy, log: memoryLog() },
      { interval: INTERVAL, sites, failureThreshold: 0.5 },
    );

    // Assess
    const failed = result.sites.filter((s) => s.status === "failed");
    expect(failed.map((s) => s.siteId)).toEqual(["site-3", "site-4"]);
    for (const s of failed) expect(s.reason).toMatch(/could not fetch or land batch 2: SlowDown/);
    expect(result.sitesOk).toBe(4);
    expect(new Set([...bronze.rows.values()].map((r) => r.siteId))).toEqual(
      new Set(["site-1", "site-2", "site-5", "site-6"]),
    );
    // Nothing parsed that was not landed: every bronze row names an object the store holds.
    for (const row of bronze.rows.values()) expect(raw.objects.has(row.rawObjectKey)).toBe(true);
    expect(bronze.runs.get(result.runId)?.run.status).toBe("succeeded");
  });

  it("a bronze write that fails is a DbError, fails the run, and raw still replays every row", async () => {
    // Prepare
    const raw = memoryRawStore();
    const bronze = memoryBronze();
    bronze.failUpsert = () =>
      new DatabaseUnavailableError(new Error("terminating connection due to administrator command"));

    // Act
    const result = await ingestInterval(
      { provider: provider(), rawStore: raw, bronze, policy, log: memoryLog() },
      { interval: INTERVAL, sites, failureThreshold: 0.1 },
    );

    // Assess
    expect(result.dbErrors).toBe(1);
    expect(result.status).toBe("failed");
    expect(
      result.sites.every(
        (s) => s.status === "failed" && /database write failed: Lost the connection/.test(s.reason ?? ""),
      ),
    ).toBe(true);
    expect(bronze.rows.size).toBe(0);
    expect(bronze.runs.get(result.runId)?.run.status).toBe("failed");

    // The responses are landed: a replay once the database is back loads all six sites.
    bronze.failUpsert = undefined;
    const [replayed] = await replayIntervals(
      { rawStore: raw, bronze, log: memoryLog(), providers: parsersFor(config()) },
      { from: INTERVAL, to: INTERVAL, sources: ["open-meteo"], failureThreshold: 0.1 },
    );
    expect(replayed?.sitesOk).toBe(6);
    expect(new Set([...bronze.rows.values()].map((r) => r.siteId)).size).toBe(6);
  });
});
