/**
 * Fault: a response body far larger than any real answer (a runaway server, a proxy's error page loop).
 * Reading must stop at HTTP_MAX_BODY_BYTES while the body streams — never buffering it — and the attempt
 * still lands raw, marked truncated, with every site quarantined and a bounded excerpt per site.
 * Memory is judged by bytes read, not by timing or RSS.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import type { RawEnvelope } from "#core/ports.ts";
import { BODY_EXCERPT_BYTES, TRUNCATED_BODY_KEEP_BYTES } from "#core/providers/http.ts";
import { createProvider, fetchBatch, type HttpPolicy } from "#core/providers/index.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";
import { createFaultHome, defaultSiteCount, type FaultHome } from "./support/fault-home.ts";

const INTERVAL: Interval = parseInterval("2026-11-22T13");
const MB = 1024 * 1024;
const HUGE = 200 * MB;
const LIMIT = 1 * MB;
const CHUNK = 64 * 1024;
const OSLO: Site = { id: "oslo", name: "Oslo", lat: 59.9139, lon: 10.7522, timezone: "UTC", country: "NO" };
const policy: HttpPolicy = {
  timeoutMs: 30_000,
  maxAttempts: 4,
  backoffBaseMs: 5,
  backoffMaxMs: 20,
  maxBodyBytes: LIMIT,
};

/** A 200 MB body produced on demand, counting what the reader actually pulled. */
function hugeStream() {
  const counter = { pulled: 0, cancelled: false };
  const chunk = new TextEncoder().encode("x".repeat(CHUNK));
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (counter.pulled >= HUGE) return controller.close();
        counter.pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        counter.cancelled = true;
      },
    },
    // No read-ahead beyond one chunk: what is pulled is what the client asked for.
    { highWaterMark: 0 },
  );
  return { stream, counter };
}

describe("a 200 MB body", () => {
  it("is cut at the limit while streaming: bytes pulled stay within one chunk of it", async () => {
    // Prepare
    const { stream, counter } = hugeStream();
    let calls = 0;
    const fetchImpl: typeof fetch = async () => {
      calls += 1;
      return new Response(stream, { status: 503, headers: { "content-type": "text/html" } });
    };
    const provider = createProvider(loadConfig({}, {}), "open-meteo", { baseUrl: "http://127.0.0.1:9" });
    const landed: RawEnvelope[] = [];
    // Act: a 503 would normally be retried; an oversized one is not.
    const final = await fetchBatch({
      provider,
      sites: [OSLO],
      interval: INTERVAL,
      batch: 1,
      policy,
      fetchImpl,
      onResponse: async (e) => {
        landed.push(e);
      },
    });
    // Assess
    expect(counter.pulled).toBeGreaterThan(LIMIT);
    expect(counter.pulled).toBeLessThanOrEqual(LIMIT + CHUNK);
    expect(counter.cancelled).toBe(true);
    expect(calls).toBe(1);
    expect(landed).toEqual([final]);
    expect(final).toMatchObject({
      status: 503,
      bodyTruncated: true,
      bodyBytes: counter.pulled,
      maxBodyBytes: LIMIT,
    });
    expect(Buffer.byteLength(final.body)).toBe(TRUNCATED_BODY_KEEP_BYTES);
    expect(provider.parse(final)).toEqual([
      {
        siteId: "oslo",
        status: "quarantined",
        reason: `response body exceeds HTTP_MAX_BODY_BYTES (${LIMIT} bytes)`,
        payload: "x".repeat(BODY_EXCERPT_BYTES),
      },
    ]);
  });
});

describe("a 200 MB body from the simulator through the CLI", () => {
  let sim: Simulator;
  let home: FaultHome;
  beforeAll(async () => {
    sim = await startSimulator({
      clock: () => intervalStart(INTERVAL),
      faults: [{ api: "open-meteo", fault: { kind: "oversized-body", bytes: HUGE } }],
    });
    home = await createFaultHome("body-size");
  });
  afterAll(async () => {
    await sim.close();
    await home.destroy();
  });

  it("lands one truncated attempt, quarantines every site with the reason and a bounded excerpt, exits 1", async () => {
    // Act
    const res = await home.weather(["ingest", "--source", "open-meteo", "--interval", INTERVAL, "--json"], {
      OPEN_METEO_BASE_URL: sim.url,
      HTTP_MAX_BODY_BYTES: String(LIMIT),
    });
    // Assess: the run failed (every site quarantined) but nothing crashed.
    const sites = await defaultSiteCount();
    expect(res.code, res.stderr).toBe(1);
    const reason = `response body exceeds HTTP_MAX_BODY_BYTES (${LIMIT} bytes)`;
    expect(JSON.parse(res.stdout)).toMatchObject({ status: "failed", sitesQuarantined: sites, sitesOk: 0 });
    // One request (one batch of ≤ 50 sites), not retried; the server stopped soon after the client did.
    expect(sim.stats().requests).toBe(1);
    expect(sim.stats().bodyBytesSent).toBeLessThan(HUGE / 4);
    const raw = [...(await home.raw()).values()].map((t) => JSON.parse(t) as RawEnvelope);
    expect(raw).toHaveLength(1);
    const [envelope] = raw;
    expect(envelope).toMatchObject({ status: 200, bodyTruncated: true, maxBodyBytes: LIMIT });
    expect(envelope?.bodyBytes).toBeGreaterThan(LIMIT);
    expect(envelope?.bodyBytes).toBeLessThan(LIMIT + 4 * CHUNK);
    expect(Buffer.byteLength(envelope?.body ?? "")).toBeLessThanOrEqual(TRUNCATED_BODY_KEEP_BYTES);
    const quarantine = await home.withDb(
      async (pool) =>
        (
          await pool.query<{ reason: string; size: number }>(
            "select reason, octet_length(excerpt) as size from bronze.quarantine",
          )
        ).rows,
    );
    expect(quarantine).toHaveLength(sites);
    for (const q of quarantine) {
      expect(q.reason).toBe(reason);
      // The excerpt as a JSON string: escaping may add a little to its 2 KB.
      expect(q.size).toBeLessThanOrEqual(BODY_EXCERPT_BYTES * 2);
    }
  });
});
