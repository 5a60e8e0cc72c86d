/**
 * The pieces of sharded ingestion that need no database: shards, the limits' shares, where the
 * manifest goes, and the embedded engine's stand-in for the Distributed Map's ItemReader.
 */
import { describe, expect, it } from "vitest";
import type { Site } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { intervalPrefix } from "#core/use-cases/ingest.ts";
import { manifestKey, planIngest, type ShardItem, shardLimits, splitShards } from "#core/use-cases/shards.ts";
import { inlineItemReaders, loadDefinition, READ_MANIFEST } from "#core/workflow/embedded-engine.ts";
import { memoryBronze, memoryRawStore } from "../helpers/fakes.ts";

const site = (i: number): Site => ({
  id: `s-${i}`,
  name: `S ${i}`,
  lat: 0,
  lon: 0,
  timezone: "UTC",
  country: "XX",
});

describe("shards", () => {
  it("splits in the sites file's order, the last shard holding the rest", () => {
    const shards = splitShards(
      Array.from({ length: 22 }, (_, i) => site(i)),
      5,
    );
    expect(shards.map((s) => s.length)).toEqual([5, 5, 5, 5, 2]);
    expect(shards.flat().map((s) => s.id)).toEqual(Array.from({ length: 22 }, (_, i) => `s-${i}`));
    expect(() => splitShards([site(1)], 0)).toThrow(RangeError);
  });

  it("gives each shard 1/concurrency of every window, so the shards in flight stay within the limits", () => {
    const limits = { perMinute: 600, perHour: 5000, perDay: 10000 };
    expect(shardLimits(limits, 4)).toEqual({ perMinute: 150, perHour: 1250, perDay: 2500 });
    expect(shardLimits(limits, 1)).toBe(limits);
  });

  it("keeps manifests out of the interval's prefix, which replays read", () => {
    const key = manifestKey("open-meteo", "2026-11-22T13" as never, "20261122T130000000Z-abcdef");
    expect(key).toBe("source=open-meteo/manifests/interval=2026-11-22T13/20261122T130000000Z-abcdef.json");
    expect(key.startsWith(intervalPrefix("open-meteo", "2026-11-22T13" as never))).toBe(false);
  });
});

describe("planIngest", () => {
  it("writes one item per shard and shares the limits among the shards that can run at once", async () => {
    const rawStore = memoryRawStore();
    const bronze = memoryBronze();
    const sites = Array.from({ length: 12 }, (_, i) => site(i));
    const plan = await planIngest(
      { rawStore, bronze, log: memoryLog() },
      { interval: "2026-11-22T13" as never, source: "open-meteo", sites, shardSize: 5, concurrency: 4 },
    );
    const items = JSON.parse(await rawStore.get(plan.manifestKey)) as ShardItem[];
    expect(items.map((i) => [i.shard, i.shards, i.sites.length])).toEqual([
      [1, 3, 5],
      [2, 3, 5],
      [3, 3, 2],
    ]);
    // Three shards, four allowed at once: each of the three takes a third of the limits.
    expect(items.every((i) => i.concurrency === 3)).toBe(true);
    // Every site starts failed, so a shard that never reports is counted.
    expect(await bronze.runCounts(plan.runId)).toMatchObject({ sitesTotal: 12, sitesFailed: 12 });
  });
});

describe("the embedded engine's ItemReader", () => {
  it("reads the manifest in a Task before an inline Map, and every way into the Map goes through it", () => {
    const file = loadDefinition() as { States: Record<string, Record<string, unknown>> };
    expect(file.States.IngestShards).toHaveProperty("ItemReader");
    const def = inlineItemReaders(file) as { States: Record<string, Record<string, unknown>> };
    const map = def.States.IngestShards as Record<string, unknown>;
    expect(map).not.toHaveProperty("ItemReader");
    expect(map.ItemsPath).toBe("$.manifestItems");
    expect((map.ItemProcessor as { ProcessorConfig: unknown }).ProcessorConfig).toEqual({ Mode: "INLINE" });
    const reader = def.States[READ_MANIFEST] as Record<string, unknown>;
    expect(reader).toMatchObject({ Type: "Task", Next: "IngestShards", ResultPath: "$.manifestItems" });
    expect(reader.Parameters).toEqual(
      (file.States.IngestShards as { ItemReader: { Parameters: unknown } }).ItemReader.Parameters,
    );
    expect(reader.Catch).toEqual(map.Catch);
    expect(def.States.PlanIngest?.Next).toBe(READ_MANIFEST);
    // Nothing else still points at the Map, and no state gained an undefined transition.
    const targets = JSON.stringify(Object.entries(def.States).filter(([n]) => n !== READ_MANIFEST));
    expect(targets).not.toContain('"Next":"IngestShards"');
    // The file itself is left as it is (a copy was changed).
    expect(file.States.PlanIngest?.Next).toBe("IngestShards");
  });
});
