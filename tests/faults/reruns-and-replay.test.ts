/**
 * Faults that make an ingestion run fail or quarantine, then a rerun: nothing lost, nothing duplicated,
 * raw never overwritten, and a replay from raw into an empty database rebuilds the warehouse exactly.
 *
 * Three warehouses on the embedded default, all fed by one simulator this test controls:
 * - clean:   `weather run` for two hours, no faults;
 * - faulted: the same two hours, first with a failing batch (hour 1) and a drifted payload (hour 2),
 *            then rerun without faults;
 * - replayed: `weather replay` of the faulted warehouse's raw objects, then the same workflows.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import { loadSites, type Site } from "#core/domain/sites.ts";
import { type FaultRule, type Simulator, startSimulator } from "../../simulator/server.ts";
import { weather } from "./support/cli.ts";
import { checksum, openWarehouse, type Warehouse, warehouseChecksums } from "./support/warehouse.ts";

const HOURS: Interval[] = [parseInterval("2026-11-21T06"), parseInterval("2026-11-21T07")];

let sim: Simulator;
let now = intervalStart(HOURS[0] as Interval);
let sites: Site[];
let root: string;
const clean: Warehouse = { home: "" };
const faulted: Warehouse = { home: "" };
const replayed: Warehouse = { home: "" };

function run(w: Warehouse, args: string[], env: Record<string, string> = {}) {
  return weather([...args, "--home", w.home, "--json"], {
    env: {
      WEATHER_SOURCE: "simulator",
      SIMULATOR_URL: sim.url,
      // Five sites per call: one failing call fails 5 of 22 sites (23 %), above the 10 % threshold.
      OPEN_METEO_BATCH_SIZE: "5",
      HTTP_MAX_ATTEMPTS: "2",
      HTTP_BACKOFF_BASE_MS: "10",
      ...env,
    },
    timeoutMs: 150_000,
  });
}

async function ingestHour(w: Warehouse, hour: Interval, faults: FaultRule[] = []) {
  now = intervalStart(hour);
  sim.setFaults(faults);
  return run(w, ["run", "--interval", hour]);
}

beforeAll(async () => {
  sim = await startSimulator({ clock: () => now });
  sites = await loadSites("config/sites.json");
  root = await mkdtemp(join(tmpdir(), "wdo-faults-replay-"));
  clean.home = join(root, "clean");
  faulted.home = join(root, "faulted");
  replayed.home = join(root, "replayed");
});
afterAll(async () => {
  await sim?.close();
  await rm(root, { recursive: true, force: true });
});

describe("reruns and replay", () => {
  it("a clean warehouse: two hours", async () => {
    for (const hour of HOURS) expect((await ingestHour(clean, hour)).code).toBe(0);
  });

  it("a failing batch exits 1, records the failed sites, and the rerun lands every row once", async () => {
    const first = sites[0] as Site;
    // Act: both attempts of the batch carrying the first site answer 503.
    const failed = await ingestHour(faulted, HOURS[0] as Interval, [
      { at: { lat: first.lat, lon: first.lon }, fault: { kind: "server-error", status: 503 } },
    ]);
    // Assess
    expect(failed.code).toBe(1);
    const doc = JSON.parse(failed.stdout);
    expect(doc.ingest).toMatchObject({ status: "failed", sitesFailed: 5, sitesOk: sites.length - 5 });
    // Act: the rerun.
    const rerun = await ingestHour(faulted, HOURS[0] as Interval);
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout).ingest).toMatchObject({ status: "succeeded", sitesOk: sites.length });
  });

  it("a drifted payload is quarantined, and superseded (kept as history) once a rerun succeeds", async () => {
    const first = sites[0] as Site;
    const drifted = await ingestHour(faulted, HOURS[1] as Interval, [
      {
        at: { lat: first.lat, lon: first.lon },
        fault: { kind: "schema-drift", field: "current.temperature_2m" },
      },
    ]);
    expect(drifted.code).toBe(0); // 1 of 22 is under the threshold
    expect(JSON.parse(drifted.stdout).ingest.sitesQuarantined).toBe(1);
    expect((await ingestHour(faulted, HOURS[1] as Interval)).code).toBe(0);
    const lineage = await run(faulted, ["lineage", "--interval", HOURS[1] as string]);
    expect(JSON.parse(lineage.stdout).ingestionRuns[0]).toMatchObject({ quarantined: 0 });
  });

  it("keeps every attempt raw: nothing was overwritten", async () => {
    const keys = await listFiles(join(faulted.home, "raw"));
    const runs = new Set(keys.map((k) => /\/run=([^/]+)\//.exec(k)?.[1]));
    expect(runs.size).toBe(4); // two runs per hour
    // Hour 1's first run: 5 batches, the failing one tried twice.
    expect(keys.filter((k) => k.includes("interval=2026-11-21T06/")).length).toBe(6 + 5);
    expect(keys.every((k) => k.startsWith("source=simulator/"))).toBe(true);
  });

  it("holds the same data as the clean warehouse: no row lost or duplicated in any layer", async () => {
    const a = await openWarehouse(clean);
    const sumsClean = await warehouseChecksums(a.pool, { lineage: false });
    await a.close();
    const b = await openWarehouse(faulted);
    const sumsFaulted = await warehouseChecksums(b.pool, { lineage: false });
    await b.close();
    expect(sumsFaulted).toEqual(sumsClean);
    expect(sumsClean[0]?.rows).toBe(2 * sites.length);
  });

  it("replays from raw into an empty warehouse byte-identical on every column, then the same gold", async () => {
    // Act: only raw objects (copied, so the replay cannot touch the original), no API calls.
    const requests = sim.stats().requests;
    const replay = await run(replayed, ["replay", "--from", HOURS[0] as string, "--to", HOURS[1] as string], {
      RAW_STORE: join(faulted.home, "raw"),
    });
    expect(replay.code, replay.stderr).toBe(0);
    expect(JSON.parse(replay.stdout).runs, replay.stdout).toHaveLength(2);
    for (const hour of HOURS) {
      const transform = await run(replayed, ["transform", "--interval", hour]);
      expect(transform.code, transform.stderr).toBe(0);
    }
    expect(sim.stats().requests).toBe(requests);
    // Assess: every layer, every column (lineage included), and the per-site outcomes.
    const b = await openWarehouse(faulted);
    const expected = await warehouseChecksums(b.pool, { lineage: true });
    const expectedQuarantine = await checksum(b.pool, "bronze.quarantine");
    const expectedOutcomes = await checksum(b.pool, "ops.ingestion_site_results");
    await b.close();
    const c = await openWarehouse(replayed);
    expect(await warehouseChecksums(c.pool, { lineage: true })).toEqual(expected);
    expect(await checksum(c.pool, "bronze.quarantine")).toEqual(expectedQuarantine);
    expect(await checksum(c.pool, "ops.ingestion_site_results")).toEqual(expectedOutcomes);
    await c.close();
    expect(expectedQuarantine.rows).toBe(1);
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}
