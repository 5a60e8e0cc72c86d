/**
 * Sharded ingestion of one interval: the workflow's ingest phase (workflows/pipeline.asl.json,
 * PlanIngest → IngestShards → CompleteIngestion), the same on AWS, LocalStack and the embedded engine.
 *
 * 1. Plan: split the sites into shards of `shardSize`, write the manifest (a JSON array, one item per
 *    shard with its sites) to the raw store, open the interval's run with every site `failed: not
 *    fetched`, so a shard that never reports leaves its sites counted as failed, never missing.
 * 2. Shard (one invocation per manifest item, at most `concurrency` at once): ingest the item's sites
 *    into the same run (core/use-cases/ingest.ts with `shard`), each shard with a 1/concurrency share
 *    of the provider's limits, so the shards together stay within them.
 * 3. Complete: the failure ratio over all shards' sites — a failed shard's unfetched sites count as
 *    failed (`not fetched: shard 3 of 8 did not report`), the run's error names each failed shard's
 *    error — closes the run; the caller publishes one IngestionCompleted.
 */
import type { Interval } from "../domain/interval.ts";
import type { ProviderSource } from "../domain/observation.ts";
import type { Site } from "../domain/sites.ts";
import type { Log } from "../observability/logger.ts";
import type { BronzeRepository, RawStore } from "../ports.ts";
import { ledgerSeededLimiter, type ProviderLimits } from "../providers/limits.ts";
import {
  type IngestDeps,
  type IngestResult,
  ingestInterval,
  ingestionRunId,
  newRunToken,
  openRunRecord,
  percentile,
} from "./ingest.ts";

/** One manifest item: what one shard invocation ingests. */
export interface ShardItem {
  interval: Interval;
  source: ProviderSource;
  /** 1-based. */
  shard: number;
  shards: number;
  /** Shards in flight at once (the Map's MaxConcurrency): this shard's share of the limits is 1/concurrency. */
  concurrency: number;
  sites: Site[];
}

export interface IngestPlan {
  interval: Interval;
  runId: string;
  shards: number;
  sites: number;
  /** Where the manifest is: the Map's ItemReader reads it (on S3, Bucket and Key, the store's prefix included). */
  manifestBucket: string;
  manifestKey: string;
}

/** What a shard invocation returns into the Map's result (small: the Map's output has a size limit). */
export interface ShardReport {
  shard: number;
  status: "succeeded" | "failed";
  sitesOk: number;
  sitesFailed: number;
  sitesQuarantined: number;
  observationsLoaded: number;
  fetchLatencyP50Ms: number | null;
  fetchLatencyP95Ms: number | null;
  /** Failed shards (the Map iteration's Catch): the error name and message. */
  error?: string;
  cause?: string;
}

export interface IngestionSummary {
  runId: string;
  interval: Interval;
  source: ProviderSource;
  status: "succeeded" | "failed";
  shards: number;
  failedShards: number[];
  sitesTotal: number;
  sitesOk: number;
  sitesFailed: number;
  sitesQuarantined: number;
  /** (failed + quarantined) / total over every shard's sites. */
  siteFailureRatio: number;
  observationsLoaded: number;
}

/** `source=open-meteo/manifests/interval=2026-11-22T13/20261122T130001234Z-1a2b3c.json` — outside the interval's prefix, so replays never read it. */
export function manifestKey(source: ProviderSource, interval: Interval, token: string): string {
  return `source=${source}/manifests/interval=${interval}/${token}.json`;
}

/** Shards of at most `shardSize` sites, in the sites file's order. */
export function splitShards(sites: readonly Site[], shardSize: number): Site[][] {
  if (!Number.isInteger(shardSize) || shardSize < 1)
    throw new RangeError(`shard size must be a whole number ≥ 1, got ${shardSize}`);
  const out: Site[][] = [];
  for (let i = 0; i < sites.length; i += shardSize) out.push(sites.slice(i, i + shardSize));
  return out;
}

/** The reason a site keeps when its shard never reports. */
export const NOT_FETCHED = (shard: number, shards: number) =>
  `not fetched: shard ${shard} of ${shards} did not report`;

/** Step 1: manifest, run opened, every site pending as failed. */
export async function planIngest(
  deps: {
    rawStore: RawStore;
    bronze: BronzeRepository;
    log: Log;
    clock?: () => Date;
    /** Where the Map's ItemReader finds the store's objects: S3 bucket and key prefix ("" and "" on files). */
    objects?: { bucket: string; prefix: string };
  },
  args: {
    interval: Interval;
    source: ProviderSource;
    sites: Site[];
    shardSize: number;
    concurrency: number;
  },
): Promise<IngestPlan> {
  const { interval, source } = args;
  const startedAt = (deps.clock ?? (() => new Date()))();
  const groups = splitShards(args.sites, args.shardSize);
  // Fewer shards than the Map may run at once: each in-flight shard may take a bigger share.
  const concurrency = Math.max(1, Math.min(args.concurrency, groups.length));
  const items: ShardItem[] = groups.map((sites, i) => ({
    interval,
    source,
    shard: i + 1,
    shards: groups.length,
    concurrency,
    sites,
  }));
  const key = manifestKey(source, interval, newRunToken(startedAt));
  await deps.rawStore.put(key, JSON.stringify(items));
  const runId = ingestionRunId(source, interval);
  await deps.bronze.startRun(
    openRunRecord({ runId, source, interval, startedAt, sitesTotal: args.sites.length }),
  );
  await deps.bronze.recordShard(
    runId,
    items.flatMap((item) =>
      item.sites.map((s) => ({
        siteId: s.id,
        status: "failed" as const,
        reason: NOT_FETCHED(item.shard, item.shards),
        rawObjectKey: null,
      })),
    ),
    { rawObjectKeys: [], weightedCalls: 0 },
  );
  deps.log.info("ingestion planned", {
    runId,
    interval,
    sites: args.sites.length,
    shards: items.length,
    manifestKey: key,
  });
  return {
    interval,
    runId,
    shards: items.length,
    sites: args.sites.length,
    manifestBucket: deps.objects?.bucket ?? "",
    manifestKey: `${deps.objects?.prefix ?? ""}${key}`,
  };
}

/** A shard's limits: its share of the provider's (1/concurrency of each window). */
export function shardLimits(limits: ProviderLimits, concurrency: number): ProviderLimits {
  if (concurrency <= 1) return limits;
  return {
    perMinute: limits.perMinute / concurrency,
    perHour: limits.perHour / concurrency,
    perDay: limits.perDay / concurrency,
  };
}

/** Step 2: one manifest item's sites into the interval's run, with the shard's share of the limits. */
export async function ingestShard(
  deps: IngestDeps,
  item: ShardItem,
  args: {
    failureThreshold: number;
    clockToleranceMinutes?: number;
    onProgress?: (p: { sitesDone: number; sitesTotal: number }) => void;
  },
): Promise<{ report: ShardReport; result: IngestResult }> {
  if (item.source !== deps.provider.source)
    throw new RangeError(
      `shard ${item.shard} was planned for ${item.source}, but this function ingests ${deps.provider.source}`,
    );
  const c = Math.max(1, item.concurrency);
  // The ledger's usage of the last day, scaled like the limits: this shard's share of what was spent.
  const limiter =
    deps.limiter ??
    (await ledgerSeededLimiter(item.source, shardLimits(deps.provider.limits, c), {
      weightedCallsSince: async (source, since) =>
        (
          await deps.bronze.weightedCallsSince(source, since)
        ).map((u) => ({ ...u, weightedCalls: u.weightedCalls / c })),
    }));
  // The plan's run stays leased while this shard works on it, whatever the shard's end.
  const lease = await deps.bronze.leaseRun(ingestionRunId(item.source, item.interval));
  let result: IngestResult;
  try {
    result = await ingestInterval(
      { ...deps, limiter },
      {
        interval: item.interval,
        sites: item.sites,
        failureThreshold: args.failureThreshold,
        clockToleranceMinutes: args.clockToleranceMinutes,
        onProgress: args.onProgress,
        shard: { index: item.shard, of: item.shards },
      },
    );
  } finally {
    await lease.stop();
  }
  return {
    result,
    report: {
      shard: item.shard,
      status: "succeeded",
      sitesOk: result.sitesOk,
      sitesFailed: result.sitesFailed,
      sitesQuarantined: result.sitesQuarantined,
      observationsLoaded: result.observationsLoaded,
      fetchLatencyP50Ms: result.fetchLatencyP50Ms,
      fetchLatencyP95Ms: result.fetchLatencyP95Ms,
    },
  };
}

/** Step 3: count every shard's sites, close the run. */
export async function completeIngestion(
  deps: { bronze: BronzeRepository; log: Log; clock?: () => Date },
  args: {
    interval: Interval;
    source: ProviderSource;
    reports: ShardReport[];
    failureThreshold: number;
  },
): Promise<IngestionSummary> {
  const runId = ingestionRunId(args.source, args.interval);
  const failed = args.reports.filter((r) => r.status === "failed");
  const counts = await deps.bronze.runCounts(runId);
  const ratio =
    counts.sitesTotal === 0 ? 0 : (counts.sitesFailed + counts.sitesQuarantined) / counts.sitesTotal;
  const status = ratio > args.failureThreshold ? "failed" : "succeeded";
  const ok = args.reports.filter((r) => r.status === "succeeded");
  const observationsLoaded = ok.reduce((n, r) => n + r.observationsLoaded, 0);
  const error =
    failed.length === 0
      ? undefined
      : `${failed.length} of ${args.reports.length} shards failed: ` +
        failed.map((r) => `shard ${r.shard}: ${r.error ?? "?"}${r.cause ? ` (${r.cause})` : ""}`).join("; ");
  const now = (deps.clock ?? (() => new Date()))();
  await deps.bronze.finishRun(
    {
      // finishRun leaves the plan's started_at alone; the record carries what the completion sets.
      ...openRunRecord({
        runId,
        source: args.source,
        interval: args.interval,
        startedAt: now,
        sitesTotal: counts.sitesTotal,
      }),
      status,
      finishedAt: now,
      observationsLoaded,
      // The shards' medians' median and their slowest p95: each shard measured its own requests.
      fetchLatencyP50Ms: percentile(
        ok.flatMap((r) => (r.fetchLatencyP50Ms === null ? [] : [r.fetchLatencyP50Ms])),
        0.5,
      ),
      fetchLatencyP95Ms: percentile(
        ok.flatMap((r) => (r.fetchLatencyP95Ms === null ? [] : [r.fetchLatencyP95Ms])),
        1,
      ),
      error,
    },
    [],
  );
  const summary: IngestionSummary = {
    runId,
    interval: args.interval,
    source: args.source,
    status,
    shards: args.reports.length,
    failedShards: failed.map((r) => r.shard).sort((a, b) => a - b),
    ...counts,
    siteFailureRatio: ratio,
    observationsLoaded,
  };
  (status === "failed" ? deps.log.error : deps.log.info).call(deps.log, "ingestion completed", {
    ...summary,
  });
  return summary;
}
