/**
 * The ingest use case when an adapter fails or is slow under it, with in-memory fakes of the raw store
 * and bronze (tests/helpers/fakes.ts) and the loopback simulator as the API: a raw landing that fails
 * costs only its batch, a bronze write that fails is counted as a DbError and loses nothing (raw
 * replays it), and a slow landing does not hold the request slot yet still comes before parsing.
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

  it("a slow landing frees the request slot for the next request, and still lands before parsing", async () => {
    // Prepare: one request in flight (Open-Meteo's default); batch 1's landing is held until the
    // next request starts (or 2 s pass, so the old order fails instead of hanging).
    const events: string[] = [];
    const raw = memoryRawStore();
    const land = raw.put.bind(raw);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
      setTimeout(resolve, 2_000);
    });
    raw.put = async (key, body) => {
      if (key.includes("/batch-0001-")) await held;
      await land(key, body);
      events.push(`landed ${key.match(/batch-\d+/)?.[0]}`);
    };
    let requests = 0;
    const fetchImpl: typeof fetch = (input, init) => {
      requests += 1;
      events.push(`request ${requests}`);
      if (requests === 2) release();
      return fetch(input, init);
    };
    const api = provider();
    const parse = api.parse.bind(api);
    api.parse = (envelope) => {
      events.push(`parsed batch-${String(envelope.batch).padStart(4, "0")}`);
      return parse(envelope);
    };
    const bronze = memoryBronze();

    // Act
    const result = await ingestInterval(
      { provider: api, rawStore: raw, bronze, policy, log: memoryLog(), fetchImpl },
      { interval: INTERVAL, sites, failureThreshold: 0.1 },
    );

    // Assess
    expect(result.sitesOk).toBe(6);
    expect(events.indexOf("request 2")).toBeLessThan(events.indexOf("landed batch-0001"));
    for (const batch of ["batch-0001", "batch-0002", "batch-0003"])
      expect(events.indexOf(`landed ${batch}`)).toBeLessThan(events.indexOf(`parsed ${batch}`));
    for (const row of bronze.rows.values()) expect(raw.objects.has(row.rawObjectKey)).toBe(true);
  });
});
