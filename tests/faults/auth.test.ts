/**
 * Fault: a rejected API key (OpenWeatherMap 401). The run must stop at the first response — landed raw,
 * recorded failed in the ledger with a message naming the variable — and the CLI must exit 2, instead
 * of retrying every site and exiting 1.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import { loadSites, type Site } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import type { RawEnvelope } from "#core/ports.ts";
import { AuthenticationError, createProvider, type HttpPolicy } from "#core/providers/index.ts";
import { ingestInterval } from "#core/use-cases/ingest.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { createFaultHome, type FaultHome } from "./support/fault-home.ts";

const INTERVAL: Interval = parseInterval("2026-11-22T13");
const GOOD_KEY = "owm-good-key-7c1d";
const WRONG_KEY = "owm-wrong-key-93ab";
const policy: HttpPolicy = { timeoutMs: 5_000, maxAttempts: 4, backoffBaseMs: 5, backoffMaxMs: 20 };

let sim: Simulator;
let sites: Site[];
beforeAll(async () => {
  sim = await startSimulator({ clock: () => intervalStart(INTERVAL), apiKey: GOOD_KEY });
  sites = await loadSites("config/sites.json");
});
afterAll(() => sim.close());

async function rawEnvelopes(dir: string): Promise<RawEnvelope[]> {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  return Promise.all(
    files.map(async (f) => JSON.parse(await readFile(join(f.parentPath, f.name), "utf8")) as RawEnvelope),
  );
}

describe("a rejected API key through ingestInterval", () => {
  let db: TestDatabase;
  let rawDir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.destroy());
  beforeEach(async () => {
    rawDir = await mkdtemp(join(tmpdir(), "wdo-auth-raw-"));
  });

  function deps(fetchImpl?: typeof fetch, concurrency = "1") {
    const config = loadConfig(
      {
        OPENWEATHER_BASE_URL: sim.url,
        OPENWEATHER_CONCURRENCY: concurrency,
        OPENWEATHER_CALLS_PER_MINUTE: "60000",
        OPENWEATHER_CALLS_PER_HOUR: "1000000",
        OPENWEATHER_CALLS_PER_DAY: "1000000",
      },
      {},
    );
    return {
      provider: createProvider(config, "openweather", { apiKey: WRONG_KEY }),
      rawStore: fsRawStore(rawDir),
      bronze: pgBronzeRepository(db.pool, { copy: !db.embedded }),
      policy,
      log: memoryLog(),
      ...(fetchImpl ? { fetchImpl } : {}),
    };
  }

  it("stops at the first response: one request, landed raw, run recorded failed, error rethrown", async () => {
    // Prepare
    const before = sim.stats().requests;
    // Act
    const error = await ingestInterval(deps(), { interval: INTERVAL, sites, failureThreshold: 0.1 }).catch(
      (e: unknown) => e,
    );
    // Assess
    expect(error).toBeInstanceOf(AuthenticationError);
    const message = (error as Error).message;
    expect(message).toContain("OPENWEATHER_API_KEY");
    expect(message).not.toContain(WRONG_KEY);
    expect(sim.stats().requests - before).toBe(1);
    const landed = await rawEnvelopes(rawDir);
    expect(landed.map((e) => [e.status, e.attempt])).toEqual([[401, 1]]);
    expect(JSON.stringify(landed)).not.toContain(WRONG_KEY);
    const { rows } = await db.pool.query(
      "select status, error, sites_failed, finished_at from ops.ingestion_runs where run_id = $1",
      [`openweather:${INTERVAL}`],
    );
    expect(rows).toEqual([
      { status: "failed", error: message, sites_failed: sites.length, finished_at: expect.any(Date) },
    ]);
    const { rows: results } = await db.pool.query(
      "select count(*) filter (where raw_object_key is not null) as landed, count(*) as total from ops.ingestion_site_results where run_id = $1",
      [`openweather:${INTERVAL}`],
    );
    expect(results).toEqual([{ landed: 1, total: sites.length }]);
  });

  // Without the abort the three hang: a short limit turns that into a quick failure.
  it("aborts the requests already in flight and never sends the queued ones", {
    timeout: 20_000,
  }, async () => {
    // Prepare: four in flight at once; only the first reaches the server, the others hang until aborted.
    let calls = 0;
    const aborted: string[] = [];
    const fetchImpl: typeof fetch = async (input, init) => {
      calls += 1;
      if (calls === 1) {
        // Answer once the other three are in flight, so the test does not depend on timing.
        while (calls < 4) await new Promise((r) => setImmediate(r));
        return fetch(input, init);
      }
      return new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => {
          aborted.push(String(input));
          reject(init.signal?.reason);
        });
      });
    };
    // Act
    const error = await ingestInterval(deps(fetchImpl, "4"), {
      interval: INTERVAL,
      sites,
      failureThreshold: 0.1,
    }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(calls).toBe(4);
    expect(aborted).toHaveLength(3);
    expect(await rawEnvelopes(rawDir)).toHaveLength(1);
    await rm(rawDir, { recursive: true, force: true });
  });
});

describe("a rejected API key through the CLI", () => {
  let home: FaultHome;
  beforeAll(async () => {
    home = await createFaultHome("auth");
  });
  afterAll(() => home.destroy());

  it("exits 2 after exactly one request, naming the variable and never the key", async () => {
    // Prepare
    const before = sim.stats().requests;
    // Act: one request in flight at a time, so "exactly one" does not hinge on the rate window.
    const res = await home.weather(
      ["ingest", "--source", "openweather", "--interval", INTERVAL, "--verbose"],
      {
        OPENWEATHER_BASE_URL: sim.url,
        OPENWEATHER_API_KEY: WRONG_KEY,
        OPENWEATHER_CONCURRENCY: "1",
      },
    );
    // Assess
    expect(res.code).toBe(2);
    expect(sim.stats().requests - before).toBe(1);
    expect(res.stderr).toMatch(
      /weather: OpenWeatherMap rejected the API key from OPENWEATHER_API_KEY \(HTTP 401/,
    );
    expect(res.stdout + res.stderr).not.toContain(WRONG_KEY);
    const raw = await home.raw();
    expect(raw.size).toBe(1);
    const [envelope] = [...raw.values()].map((t) => JSON.parse(t) as RawEnvelope);
    expect(envelope).toMatchObject({ status: 401, attempt: 1, source: "openweather" });
    expect(JSON.stringify(envelope)).not.toContain(WRONG_KEY);
    const runs = await home.withDb(
      async (pool) =>
        (await pool.query("select run_id, status, error from ops.ingestion_runs")).rows as {
          status: string;
          error: string;
        }[],
    );
    expect(runs).toEqual([
      {
        run_id: `openweather:${INTERVAL}`,
        status: "failed",
        error: expect.stringContaining("OPENWEATHER_API_KEY"),
      },
    ]);
  });
});
