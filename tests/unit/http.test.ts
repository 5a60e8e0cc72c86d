import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, parseInterval } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import type { RawEnvelope } from "#core/ports.ts";
import {
  AuthenticationError,
  bodyExcerpt,
  createRequestQueue,
  fetchBatch,
  type HttpPolicy,
  httpPolicyFromConfig,
  retryAfterMs,
  secretScrubber,
} from "#core/providers/http.ts";
import { createProvider } from "#core/providers/index.ts";
import { UNLIMITED } from "#core/providers/limits.ts";
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

/** One batch for Oslo whose outcome (rejection included) the test inspects, with every landed attempt. */
function attemptWith(provider: ReturnType<typeof openMeteo>, p: HttpPolicy = policy) {
  const seen: RawEnvelope[] = [];
  const attempt = fetchBatch({
    provider,
    sites: [OSLO],
    interval,
    batch: 1,
    policy: p,
    onResponse: async (e) => {
      seen.push(structuredClone(e));
    },
  });
  return { seen, attempt };
}

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
    const wrongSeen: RawEnvelope[] = [];
    const wrong = fetchBatch({
      provider: openWeather("wrong-key-77aa"),
      sites: [LIMA],
      interval,
      batch: 1,
      policy,
      onResponse: async (e) => {
        wrongSeen.push(structuredClone(e));
      },
    });
    await expect(wrong).rejects.toThrow(AuthenticationError);
    // Act
    const landed = JSON.stringify([...good.seen, ...wrongSeen]);
    // Assess
    expect(good.seen.map((e) => e.status)).toEqual([429, 200]);
    expect(wrongSeen.map((e) => e.status)).toEqual([401]);
    expect(landed).not.toContain(KEY);
    expect(landed).not.toContain("wrong-key-77aa");
    expect(good.final.url).toContain("appid=REDACTED");
    expect(openWeather().parse(wrongSeen[0] as RawEnvelope)[0]).toMatchObject({
      status: "failed",
      reason: expect.stringMatching(/^HTTP 401/),
    });
  });

  it("lands a rejected key's response, then throws AuthenticationError naming the variable, not the key", async () => {
    // Prepare
    const before = sim.stats().requests;
    const { seen, attempt } = attemptWith(openWeather("wrong-key-77aa"));
    // Act
    const error = await attempt.catch((e: unknown) => e);
    // Assess: one attempt only (no retry), landed before the throw.
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toContain("OPENWEATHER_API_KEY");
    expect((error as Error).message).not.toContain("wrong-key-77aa");
    expect(seen.map((e) => e.status)).toEqual([401]);
    expect(sim.stats().requests - before).toBe(1);
  });

  it("names the secret, not the variable, when the key came from OPENWEATHER_SECRET_ARN", async () => {
    const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:owm-key-AbCdEf";
    const provider = createProvider(loadConfig({ OPENWEATHER_SECRET_ARN: arn }, {}), "openweather", {
      baseUrl: sim.url,
      apiKey: "from-the-secret-9911",
    });
    const error = await attemptWith(provider).attempt.catch((e: unknown) => e);
    expect((error as Error).message).toContain(`the secret ${arn} (OPENWEATHER_SECRET_ARN)`);
    expect((error as Error).message).not.toContain("from-the-secret-9911");
  });

  it("treats a 403 as a rejected key only when its message is about the key", async () => {
    sim.setFaults([
      { times: 1, fault: { kind: "status", status: 403, message: "Invalid API key for this endpoint" } },
    ]);
    const aboutKey = await attemptWith(openWeather()).attempt.catch((e: unknown) => e);
    expect(aboutKey).toBeInstanceOf(AuthenticationError);
    sim.setFaults([
      { times: 1, fault: { kind: "status", status: 403, message: "Plan does not include this API" } },
    ]);
    const { final } = await run({ provider: openWeather(), sites: [OSLO] });
    expect(final.status).toBe(403);
  });

  it("never calls a keyless provider's 401 a rejected key (Open-Meteo has no key to fix)", async () => {
    sim.setFaults([{ fault: { kind: "status", status: 401 } }]);
    const { final, seen } = await run({ provider: openMeteo(), sites: [OSLO] });
    expect(seen).toHaveLength(1);
    expect(openMeteo().parse(final)[0]?.status).toBe("failed");
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

/** A fetch answering `body` with `status` and `headers`, for tests that need exact bytes. */
function answer(body: string, status = 200, headers: Record<string, string> = {}): typeof fetch {
  return async () =>
    new Response(body, { status, headers: { "content-type": "application/json", ...headers } });
}

describe("fetchBatch: bounded bodies (HTTP_MAX_BODY_BYTES)", () => {
  const small = { ...policy, maxBodyBytes: 1_000 };

  async function fetchWith(fetchImpl: typeof fetch, p: HttpPolicy = small, provider = openMeteo()) {
    const seen: RawEnvelope[] = [];
    const final = await fetchBatch({
      provider,
      sites: [OSLO],
      interval,
      batch: 1,
      policy: p,
      fetchImpl,
      onResponse: async (e) => {
        seen.push(structuredClone(e));
      },
    });
    return { final, seen };
  }

  it("keeps a body at the limit whole and adds no truncation fields", async () => {
    const body = `"${"x".repeat(998)}"`;
    const { final } = await fetchWith(answer(body));
    expect(final.body).toBe(body);
    expect(final).not.toHaveProperty("bodyTruncated");
    expect(final).not.toHaveProperty("bodyBytes");
  });

  it("cuts a body one byte over the limit, lands it with explicit fields, and quarantines every site", async () => {
    // Prepare
    const body = "y".repeat(1_001);
    // Act
    const { final, seen } = await fetchWith(answer(body));
    // Assess
    expect(seen).toHaveLength(1);
    expect(final).toMatchObject({ status: 200, bodyTruncated: true, bodyBytes: 1_001, maxBodyBytes: 1_000 });
    expect(final.body).toBe("y".repeat(1_000));
    expect(openMeteo().parse(final)).toEqual([
      {
        siteId: "oslo",
        status: "quarantined",
        reason: "response body exceeds HTTP_MAX_BODY_BYTES (1000 bytes)",
        payload: "y".repeat(1_000),
      },
    ]);
  });

  it("does not retry an oversized 5xx: the server would send as much again", async () => {
    let calls = 0;
    const fetchImpl: typeof fetch = async (...args) => {
      calls += 1;
      return answer("z".repeat(5_000), 503)(...args);
    };
    const { final, seen } = await fetchWith(fetchImpl);
    expect(calls).toBe(1);
    expect(seen).toHaveLength(1);
    expect(openMeteo().parse(final)[0]).toMatchObject({ status: "quarantined" });
  });

  it("never splits a UTF-8 character at the cut", async () => {
    // "é" is two bytes: the limit falls between them.
    const { final } = await fetchWith(answer("é".repeat(600)), { ...policy, maxBodyBytes: 999 });
    expect(final.bodyTruncated).toBe(true);
    expect(final.body).toBe("é".repeat(499));
  });

  it("quarantines with a bounded excerpt in OpenWeatherMap too", async () => {
    const { final } = await fetchWith(
      answer("w".repeat(200_000)),
      { ...policy, maxBodyBytes: 100_000 },
      openWeather(),
    );
    const [result] = openWeather().parse(final);
    expect(result).toMatchObject({
      status: "quarantined",
      reason: "response body exceeds HTTP_MAX_BODY_BYTES (100000 bytes)",
    });
    expect(result?.status === "quarantined" && String(result.payload).length).toBe(2_048);
  });

  it("puts only an excerpt of a malformed body into each site's quarantine payload", async () => {
    // Prepare: a 50 kB body that is not JSON, for three sites.
    const envelope = { ...(await fetchWith(answer(`<html>${"a".repeat(50_000)}`), policy)).final };
    envelope.sites = [OSLO, LIMA, TOKYO];
    // Act
    const results = openMeteo().parse(envelope);
    // Assess
    expect(results.map((r) => r.status)).toEqual(["quarantined", "quarantined", "quarantined"]);
    for (const r of results) expect(r.status === "quarantined" && String(r.payload).length).toBe(2_048);
  });

  it("excerpts at most 2 KB of UTF-8, whole characters only", () => {
    expect(bodyExcerpt("short")).toBe("short");
    const excerpt = bodyExcerpt("€".repeat(2_000)); // three bytes each
    expect(Buffer.byteLength(excerpt)).toBeLessThanOrEqual(2_048);
    expect(excerpt).toBe("€".repeat(682));
  });
});

describe("secretScrubber: the key in any encoding", () => {
  const key = "k3y+/=&é ~";
  const scrub = secretScrubber([key]);
  const b64 = (t: string, a: "base64" | "base64url" = "base64") => Buffer.from(t).toString(a);
  const forms: [string, string][] = [
    ["literal", key],
    ["encodeURIComponent", encodeURIComponent(key)],
    [
      "encodeURIComponent, lower-case hex",
      encodeURIComponent(key).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    ],
    ["form encoding (+ for space)", new URLSearchParams({ appid: key }).toString().slice(6)],
    ["encodeURI", encodeURI(key)],
    ["double percent-encoding", encodeURIComponent(encodeURIComponent(key))],
    ["JSON string", JSON.stringify(key).slice(1, -1)],
    ["JSON with \\/ and \\u escapes", "k3y+\\/=&\\u00e9 ~"],
    [
      "JSON, everything \\u-escaped",
      [...key].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""),
    ],
    ["HTML entities", "k3y+/=&amp;&#233; ~"],
    ["base64", b64(key)],
    ["base64url", b64(key, "base64url")],
    ["base64 of the URL-encoded key", b64(encodeURIComponent(key))],
  ];
  it.each(forms)("removes the %s form, also inside other text", (_name, form) => {
    const text = `before ${form} after`;
    const out = scrub(text);
    expect(out).toBe("before REDACTED after");
  });

  it.each([0, 1, 2, 3, 4, 5])("finds the key inside a base64 blob of a whole URL (offset %i)", (pad) => {
    const url = `${"p".repeat(pad)}https://api.example/x?lat=1&appid=${encodeURIComponent(key)}&units=metric`;
    for (const alphabet of ["base64", "base64url"] as const) {
      expect(scrub(b64(url, alphabet))).toContain("REDACTED");
      // Control: the same URL with another key is left alone.
      const other = b64(url.replace(encodeURIComponent(key), "another-key-123"), alphabet);
      expect(scrub(other)).toBe(other);
    }
  });

  it("drops a tail that could be the start of the key when the body was cut", () => {
    const cut = `{"echo":"${encodeURIComponent(key).slice(0, 7)}`;
    expect(scrub(cut)).toContain("k3y%2B%");
    expect(scrub.truncated(cut)).not.toContain("k3y");
    // A whole occurrence before the cut is replaced, not just dropped.
    expect(scrub.truncated(`${key}${"x".repeat(500)}`)).toMatch(/^REDACTEDx+$/);
  });

  it("scrubs kept headers too", async () => {
    const seen: RawEnvelope[] = [];
    await fetchBatch({
      provider: openWeather(KEY),
      sites: [OSLO],
      interval,
      batch: 1,
      policy,
      fetchImpl: answer("{}", 200, {
        "content-type": `application/json; echo=${encodeURIComponent(KEY)}`,
        "retry-after": KEY,
        location: `https://x/?appid=${KEY}`,
      }),
      onResponse: async (e) => {
        seen.push(e);
      },
    });
    expect(JSON.stringify(seen)).not.toContain(KEY);
    expect(seen[0]?.headers).toEqual({
      "content-type": "application/json; echo=REDACTED",
      "retry-after": "REDACTED",
    });
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

describe("request queue and policy", () => {
  const limits = { perMinute: 6, perHour: 100, perDay: 1000 };

  it("runs at most the provider's concurrency at once", async () => {
    const queue = createRequestQueue({ source: "open-meteo", concurrency: 3, limits: UNLIMITED });
    let running = 0;
    let most = 0;
    const task = async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running -= 1;
    };
    await Promise.all(Array.from({ length: 10 }, () => queue.add(task, { weight: 1 })));
    expect(most).toBe(3);
  });

  it("starts a task only when its weight fits, and counts the weight the queue spent", async () => {
    // Prepare: 6 weighted calls a minute; tasks of weight 4 and 2 fit, the third (1) must wait.
    const queue = createRequestQueue({ source: "open-meteo", concurrency: 10, limits });
    const started: number[] = [];
    // Act
    const runs = [4, 2, 1].map((weight, i) => queue.add(async () => started.push(i), { weight }));
    await Promise.all(runs.slice(0, 2));
    await new Promise((r) => setTimeout(r, 30));
    // Assess
    expect(started).toEqual([0, 1]);
    expect(queue.weightedCalls).toBe(6);
    queue.dropQueued(new Error("test over"));
    await expect(runs[2]).rejects.toThrow("test over");
    expect(queue.weightedCalls).toBe(6);
  });

  it("fails a task heavier than a whole window at once, naming the setting", async () => {
    const queue = createRequestQueue({ source: "open-meteo", concurrency: 1, limits });
    await expect(queue.add(async () => "never", { weight: 7 })).rejects.toThrow(
      /OPEN_METEO_CALLS_PER_MINUTE/,
    );
  });

  it("acquires the weight again before every retry", async () => {
    // Prepare: a 503 then a 200 — two requests the provider counts.
    sim.setFaults([{ api: "open-meteo", times: 1, fault: { kind: "server-error", status: 503 } }]);
    const provider = openMeteo();
    const queue = createRequestQueue(provider);
    const weight = provider.requestWeight([OSLO, LIMA]);
    // Act
    const envelope = await queue.add(
      () =>
        fetchBatch({
          provider,
          sites: [OSLO, LIMA],
          interval,
          batch: 1,
          policy,
          onResponse: async () => {},
          beforeRetry: () => queue.acquire(weight),
        }),
      { weight },
    );
    // Assess
    expect(envelope.attempt).toBe(2);
    expect(queue.weightedCalls).toBe(2 * weight);
  });

  it("maps the HTTP_* variables", () => {
    const p = httpPolicyFromConfig(
      loadConfig({
        HTTP_TIMEOUT_MS: "1234",
        HTTP_MAX_ATTEMPTS: "5",
        HTTP_BACKOFF_BASE_MS: "7",
        HTTP_BACKOFF_MAX_MS: "99",
        HTTP_MAX_BODY_BYTES: "4096",
      }),
    );
    expect(p).toMatchObject({
      timeoutMs: 1234,
      maxAttempts: 5,
      backoffBaseMs: 7,
      backoffMaxMs: 99,
      maxBodyBytes: 4096,
    });
    // The default leaves room for far more than a 50-location Open-Meteo answer (≈36 kB).
    expect(httpPolicyFromConfig(loadConfig({}, {})).maxBodyBytes).toBe(4 * 1024 * 1024);
  });
});
