import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, parseInterval } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import type { RawEnvelope } from "#core/ports.ts";
import {
  createRequestQueue,
  fetchBatch,
  type HttpPolicy,
  httpPolicyFromConfig,
  rateWindow,
  retryAfterMs,
} from "#core/providers/http.ts";
import { createProvider } from "#core/providers/index.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";

const site = (id: string, lat: number, lon: number): Site => ({
  id,
  name: id,
  lat,
  lon,
  timezone: "UTC",
  country: "XX",
});
const OSLO = site("oslo", 59.9139, 10.7522);
const LIMA = site("lima", -12.0464, -77.0428);
const TOKYO = site("tokyo", 35.6762, 139.6503);
const KEY = "owm-secret-key-5f3e9c0a";
const interval: Interval = parseInterval("2026-10-03T10");
// Tiny backoff keeps the retry tests fast; the timeout is generous for a loopback answer but short for a hang.
const policy: HttpPolicy = { timeoutMs: 1_500, maxAttempts: 4, backoffBaseMs: 5, backoffMaxMs: 20 };

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ clock: () => new Date("2026-10-03T10:37:00Z"), apiKey: KEY });
});
afterAll(() => sim.close());
beforeEach(() => sim.setFaults([]));

const openMeteo = () => createProvider(loadConfig({}), "open-meteo", { baseUrl: sim.url });
const openWeather = (apiKey = KEY) =>
  createProvider(loadConfig({}), "openweather", { baseUrl: sim.url, apiKey });

/** fetchBatch with a recorder standing in for the raw store. */
async function run(args: { provider: ReturnType<typeof openMeteo>; sites: Site[]; policy?: HttpPolicy }) {
  const seen: RawEnvelope[] = [];
  const final = await fetchBatch({
    provider: args.provider,
    sites: args.sites,
    interval,
    batch: 7,
    policy: args.policy ?? policy,
    onResponse: async (e) => {
      seen.push(structuredClone(e));
    },
  });
  return { final, seen };
}

describe("fetchBatch", () => {
  it("lands and returns a single successful attempt", async () => {
    // Act
    const { final, seen } = await run({ provider: openMeteo(), sites: [OSLO, LIMA] });
    // Assess
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual(final);
    expect(final).toMatchObject({
      version: 1,
      source: "open-meteo",
      interval,
      batch: 7,
      status: 200,
      attempt: 1,
    });
    expect(final.sites.map((s) => s.id)).toEqual(["oslo", "lima"]);
    expect(final.headers["content-type"]).toContain("application/json");
    expect(Number.isNaN(Date.parse(final.fetchedAt))).toBe(false);
    expect(final.latencyMs).toBeGreaterThanOrEqual(0);
    expect(
      openMeteo()
        .parse(final)
        .map((r) => r.status),
    ).toEqual(["ok", "ok"]);
  });

  it("retries 5xx with backoff and hands every attempt to onResponse first", async () => {
    // Prepare
    sim.setFaults([{ api: "open-meteo", times: 2, fault: { kind: "server-error", status: 503 } }]);
    // Act
    const { final, seen } = await run({ provider: openMeteo(), sites: [OSLO] });
    // Assess
    expect(seen.map((e) => [e.attempt, e.status])).toEqual([
      [1, 503],
      [2, 503],
      [3, 200],
    ]);
    expect(final.attempt).toBe(3);
    expect(openMeteo().parse(final)[0]?.status).toBe("ok");
  });

  it("gives up after maxAttempts and returns the last failure, which parses as failed", async () => {
    sim.setFaults([{ fault: { kind: "server-error" } }]);
    const { final, seen } = await run({
      provider: openMeteo(),
      sites: [OSLO, LIMA],
      policy: { ...policy, maxAttempts: 3 },
    });
    expect(seen.map((e) => e.status)).toEqual([500, 500, 500]);
    expect(final.attempt).toBe(3);
    expect(openMeteo().parse(final)).toEqual([
      { siteId: "oslo", status: "failed", reason: "HTTP 500 after 3 attempts: Internal Server Error" },
      { siteId: "lima", status: "failed", reason: "HTTP 500 after 3 attempts: Internal Server Error" },
    ]);
  });

  it("waits at least Retry-After on 429 before the next attempt", async () => {
    // Prepare
    sim.setFaults([{ api: "openweather", times: 1, fault: { kind: "rate-limit", retryAfter: 1 } }]);
    // Act
    const { final, seen } = await run({ provider: openWeather(), sites: [OSLO] });
    // Assess: a lower bound on the wait is behaviour, not performance.
    expect(seen.map((e) => e.status)).toEqual([429, 200]);
    expect(seen[0]?.headers["retry-after"]).toBe("1");
    const gap = Date.parse(seen[1]?.fetchedAt ?? "") - Date.parse(seen[0]?.fetchedAt ?? "");
    expect(gap).toBeGreaterThanOrEqual(1_000);
    expect(final.status).toBe(200);
  });

  it("stops retrying when Retry-After exceeds the policy's ceiling", async () => {
    sim.setFaults([{ fault: { kind: "rate-limit", retryAfter: 3600 } }]);
    const { final, seen } = await run({
      provider: openWeather(),
      sites: [OSLO],
      policy: { ...policy, maxRetryAfterMs: 5_000 },
    });
    expect(seen).toHaveLength(1);
    expect(openWeather().parse(final)[0]).toMatchObject({
      status: "failed",
      reason: expect.stringMatching(/^HTTP 429 after 1 attempt: /),
    });
  });

  it("times out a hanging request, lands it as a network error and retries", async () => {
    // Prepare
    sim.setFaults([{ times: 2, fault: { kind: "hang" } }]);
    // Long enough for the third (answered) attempt even on a loaded CI box.
    const short = { ...policy, timeoutMs: 400 };
    // Act
    const { final, seen } = await run({ provider: openMeteo(), sites: [OSLO], policy: short });
    // Assess
    expect(seen.map((e) => [e.status, e.networkError])).toEqual([
      [0, "timeout after 400 ms"],
      [0, "timeout after 400 ms"],
      [200, undefined],
    ]);
    expect(seen[0]?.body).toBe("");
    expect(final.status).toBe(200);
    expect(sim.stats().byStatus.hang).toBeGreaterThanOrEqual(2);
  });

  it("reports a timeout on every attempt as a failed site", async () => {
    sim.setFaults([{ fault: { kind: "hang" } }]);
    const { final, seen } = await run({
      provider: openMeteo(),
      sites: [OSLO],
      policy: { ...policy, timeoutMs: 150, maxAttempts: 2 },
    });
    expect(seen).toHaveLength(2);
    expect(openMeteo().parse(final)[0]).toEqual({
      siteId: "oslo",
      status: "failed",
      reason: "network error after 2 attempts: timeout after 150 ms",
    });
  });

  it("does not retry a 404", async () => {
    sim.setFaults([{ fault: { kind: "status", status: 404 } }]);
    const { final, seen } = await run({ provider: openWeather(), sites: [OSLO] });
    expect(seen).toHaveLength(1);
    expect(openWeather().parse(final)[0]).toEqual({
      siteId: "oslo",
      status: "failed",
      reason: "HTTP 404 after 1 attempt: city not found",
    });
  });

  it("does not retry a 200 with malformed JSON; it parses as quarantined", async () => {
    sim.setFaults([{ fault: { kind: "malformed-json" } }]);
    const { final, seen } = await run({ provider: openMeteo(), sites: [OSLO, LIMA] });
    expect(seen).toHaveLength(1);
    expect(
      openMeteo()
        .parse(final)
        .map((r) => r.status),
    ).toEqual(["quarantined", "quarantined"]);
  });

  it("retries connection errors as status 0 with networkError", async () => {
    // Prepare: a port that was just free and now refuses.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const provider = createProvider(loadConfig({}), "open-meteo", { baseUrl: `http://127.0.0.1:${port}` });
    // Act
    const { final, seen } = await run({ provider, sites: [OSLO], policy: { ...policy, maxAttempts: 2 } });
    // Assess
    expect(seen.map((e) => e.status)).toEqual([0, 0]);
    expect(final.networkError).toMatch(/ECONNREFUSED|fetch failed/);
    expect(provider.parse(final)[0]?.status).toBe("failed");
  });

  it("propagates an onResponse failure without retrying (the raw store must not be skipped)", async () => {
    sim.setFaults([{ fault: { kind: "server-error" } }]);
    let calls = 0;
    const attempt = fetchBatch({
      provider: openMeteo(),
      sites: [OSLO],
      interval,
      batch: 1,
      policy,
      onResponse: async () => {
        calls += 1;
        throw new Error("disk full");
      },
    });
    await expect(attempt).rejects.toThrow("disk full");
    expect(calls).toBe(1);
  });

  it("rejects with the abort reason when the caller's signal aborts", async () => {
    sim.setFaults([{ fault: { kind: "hang" } }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("run cancelled")), 50);
    const attempt = fetchBatch({
      provider: openMeteo(),
      sites: [OSLO],
      interval,
      batch: 1,
      policy: { ...policy, timeoutMs: 5_000 },
      onResponse: async () => {},
      signal: controller.signal,
    });
    await expect(attempt).rejects.toThrow("run cancelled");
  });

  it("keeps the API key out of every envelope, success or error", async () => {
    // Prepare: one good request, one with a wrong key (401), one rate limited then retried.
    sim.setFaults([{ api: "openweather", times: 1, fault: { kind: "rate-limit" } }]);
    const good = await run({ provider: openWeather(), sites: [OSLO] });
    const wrong = await run({ provider: openWeather("wrong-key-77aa"), sites: [LIMA] });
    // Act
    const landed = JSON.stringify([...good.seen, ...wrong.seen]);
    // Assess
    expect(good.seen.map((e) => e.status)).toEqual([429, 200]);
    expect(wrong.final.status).toBe(401);
    expect(landed).not.toContain(KEY);
    expect(landed).not.toContain("wrong-key-77aa");
    expect(good.final.url).toContain("appid=REDACTED");
    expect(openWeather().parse(wrong.final)[0]).toMatchObject({
      status: "failed",
      reason: expect.stringMatching(/^HTTP 401/),
    });
  });

  it("isolates per-site schema drift inside a batch: only that site is quarantined, naming the field", async () => {
    // Prepare
    sim.setFaults([
      { at: { lat: LIMA.lat, lon: LIMA.lon }, fault: { kind: "schema-drift", change: "type" } },
    ]);
    // Act
    const { final } = await run({ provider: openMeteo(), sites: [OSLO, LIMA, TOKYO] });
    const results = openMeteo().parse(final);
    // Assess
    expect(results.map((r) => [r.siteId, r.status])).toEqual([
      ["oslo", "ok"],
      ["lima", "quarantined"],
      ["tokyo", "ok"],
    ]);
    expect(results[1]?.status === "quarantined" && results[1].reason).toContain("[1].current.temperature_2m");
  });

  it("quarantines a whole batch when drift renames a field everywhere", async () => {
    sim.setFaults([{ api: "open-meteo", fault: { kind: "schema-drift" } }]);
    const { final } = await run({ provider: openMeteo(), sites: [OSLO, LIMA] });
    const results = openMeteo().parse(final);
    expect(results.map((r) => r.status)).toEqual(["quarantined", "quarantined"]);
    expect(results[0]?.status === "quarantined" && results[0].reason).toContain("current.temperature_2m");
  });
});

describe("retryAfterMs", () => {
  const now = Date.parse("2026-10-03T10:00:00Z");
  it.each([
    ["120", 120_000],
    [" 0 ", 0],
    ["Sat, 03 Oct 2026 10:00:30 GMT", 30_000],
    ["Sat, 03 Oct 2026 09:59:00 GMT", 0],
    ["soon", undefined],
    [undefined, undefined],
  ])("%j → %j", (header, expected) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });
});

describe("rate limiting and policy", () => {
  it.each([
    [60, { intervalCap: 1, interval: 1000 }],
    [600, { intervalCap: 10, interval: 1000 }],
    [100, { intervalCap: 2, interval: 1200 }],
    [6000, { intervalCap: 100, interval: 1000 }],
  ])("%i/min → a sliding window of %j", (rate, expected) => {
    expect(rateWindow(rate)).toEqual(expected);
  });

  it("keeps slow rates exact with a longer window", () => {
    const w = rateWindow(7);
    expect(w.intervalCap).toBe(1);
    expect((w.intervalCap * 60_000) / w.interval).toBeCloseTo(7, 10);
  });

  it("builds a queue with the provider's concurrency", () => {
    const queue = createRequestQueue({ concurrency: 3, ratePerMinute: 120 });
    expect(queue.concurrency).toBe(3);
  });

  it("never starts more than the window's cap at once", async () => {
    // Prepare: 6 per minute is one start per 10 s window; five instant tasks.
    const queue = createRequestQueue({ concurrency: 10, ratePerMinute: 6 });
    const started: number[] = [];
    // Act
    for (let i = 0; i < 5; i++) void queue.add(async () => started.push(i));
    await new Promise((r) => setTimeout(r, 50));
    // Assess: only the first window's one has run so far.
    expect(started).toEqual([0]);
    queue.clear();
  });

  it("maps the HTTP_* variables", () => {
    const p = httpPolicyFromConfig(
      loadConfig({
        HTTP_TIMEOUT_MS: "1234",
        HTTP_MAX_ATTEMPTS: "5",
        HTTP_BACKOFF_BASE_MS: "7",
        HTTP_BACKOFF_MAX_MS: "99",
      }),
    );
    expect(p).toMatchObject({ timeoutMs: 1234, maxAttempts: 5, backoffBaseMs: 7, backoffMaxMs: 99 });
  });
});
