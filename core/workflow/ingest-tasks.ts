/**
 * The ingest phase's task bodies (PlanIngest, IngestShard, CompleteIngestion, and the embedded
 * engine's ReadManifest): parse the event, call core/use-cases/shards.ts, return a small result. The
 * ingest Lambda (functions/ingest.ts) and the embedded engine call the very same functions.
 */
import { en } from "zod/locales";
import * as z from "zod/mini";
import { parseS3Url } from "../adapters/s3-raw-store.ts";
import { type Config, rawStoreLocation } from "../config/env.ts";
import { parseEvent } from "../domain/events.ts";
import type { Interval } from "../domain/interval.ts";
import { parseInterval } from "../domain/interval.ts";
import type { ProviderSource } from "../domain/observation.ts";
import { loadSites, type Site, siteSchema } from "../domain/sites.ts";
import type { Log } from "../observability/logger.ts";
import type { BronzeRepository, RawStore } from "../ports.ts";
import { httpPolicyFromConfig } from "../providers/http.ts";
import { providerFor, type Runtime } from "../runtime.ts";
import type { IngestDeps, IngestResult } from "../use-cases/ingest.ts";
import {
  completeIngestion,
  type IngestionSummary,
  type IngestPlan,
  ingestShard,
  planIngest,
  type ShardItem,
  type ShardReport,
} from "../use-cases/shards.ts";

z.config(en());

const intervalField = z.pipe(
  z.string(),
  z.transform((s: string) => parseInterval(s)),
);
const retryCountField = z.optional(z.number().check(z.int(), z.gte(0)));

export const planEventSchema = z.object({
  action: z.literal("plan"),
  interval: intervalField,
  retryCount: retryCountField,
});

/** A whole manifest item (ItemReader), or a reference to one (the embedded engine). */
export const shardEventSchema = z.object({
  action: z.literal("shard"),
  item: z.union([
    z.looseObject({
      interval: intervalField,
      source: z.string(),
      shard: z.number().check(z.int(), z.gte(1)),
      shards: z.number().check(z.int(), z.gte(1)),
      concurrency: z.number().check(z.int(), z.gte(1)),
      sites: z.array(siteSchema),
    }),
    z.object({
      manifestKey: z.string(),
      shard: z.number().check(z.int(), z.gte(1)),
      shards: z.number().check(z.int(), z.gte(1)),
    }),
  ]),
  retryCount: retryCountField,
});

const reportSchema = z.looseObject({
  shard: z.number(),
  status: z.enum(["succeeded", "failed"]),
  sitesOk: z.number(),
  sitesFailed: z.number(),
  sitesQuarantined: z.number(),
  observationsLoaded: z.number(),
  fetchLatencyP50Ms: z.nullable(z.number()),
  fetchLatencyP95Ms: z.nullable(z.number()),
  error: z.optional(z.string()),
  cause: z.optional(z.string()),
});

export const completeEventSchema = z.object({
  action: z.literal("complete"),
  interval: intervalField,
  shards: z.array(reportSchema),
  retryCount: retryCountField,
});

/** The events the ingest function answers besides a schedule or a replay request. */
export const INGEST_ACTIONS = ["plan", "shard", "complete"] as const;
export const isIngestAction = (event: unknown): boolean =>
  INGEST_ACTIONS.includes((event as { action?: never } | null)?.action as never);

export interface IngestTaskDeps {
  rawStore: RawStore;
  bronze: BronzeRepository;
  log: Log;
  /** The provider's ingest dependencies for a shard (provider, HTTP policy, fetch). */
  ingest: () => Promise<Omit<IngestDeps, "rawStore" | "bronze" | "log">>;
  source: ShardItem["source"];
  sites: () => Promise<Site[]>;
  shardSize: number;
  concurrency: number;
  failureThreshold: number;
  clockToleranceMinutes: number;
  /** The raw store's S3 bucket and key prefix (the Map's ItemReader reads the manifest there); "" on files. */
  objects: { bucket: string; prefix: string };
  onShardProgress?: (shard: number, p: { sitesDone: number; sitesTotal: number }) => void;
}

export async function planIngestTask(deps: IngestTaskDeps, event: unknown): Promise<IngestPlan> {
  const e = parseEvent(planEventSchema, event, '{ "action": "plan", "interval": "2026-11-22T13" }');
  return planIngest(
    { rawStore: deps.rawStore, bronze: deps.bronze, log: deps.log, objects: deps.objects },
    {
      interval: e.interval,
      source: deps.source,
      sites: await deps.sites(),
      shardSize: deps.shardSize,
      concurrency: deps.concurrency,
    },
  );
}

/**
 * The manifest this process read last (the embedded engine resolves every shard of an execution from
 * it; a manifest is written once and never changes). One slot: a long-lived process keeps no old hours.
 */
let lastManifest: { key: string; items: Promise<ShardItem[]> } | undefined;

function readManifest(rawStore: RawStore, key: string): Promise<ShardItem[]> {
  if (lastManifest?.key !== key) {
    const items = rawStore.get(key).then((text) => JSON.parse(text) as ShardItem[]);
    const slot = { key, items };
    items.catch(() => {
      if (lastManifest === slot) lastManifest = undefined;
    });
    lastManifest = slot;
  }
  return lastManifest.items;
}

/** The embedded engine's ItemReader: `{ Bucket, Key }` in, one reference per manifest item out. */
export async function readManifestTask(
  deps: Pick<IngestTaskDeps, "rawStore">,
  event: unknown,
): Promise<{ manifestKey: string; shard: number; shards: number }[]> {
  const e = parseEvent(z.looseObject({ Key: z.string() }), event, '{ "Bucket": "…", "Key": "…" }');
  return (await readManifest(deps.rawStore, e.Key)).map((item) => ({
    manifestKey: e.Key,
    shard: item.shard,
    shards: item.shards,
  }));
}

export async function ingestShardTask(
  deps: IngestTaskDeps,
  event: unknown,
): Promise<{ report: ShardReport; result: IngestResult }> {
  const e = parseEvent(shardEventSchema, event, '{ "action": "shard", "item": { … a manifest item … } }');
  let item: ShardItem;
  if ("manifestKey" in e.item && typeof e.item.manifestKey === "string") {
    const ref = e.item as { manifestKey: string; shard: number };
    const found = (await readManifest(deps.rawStore, ref.manifestKey)).find((i) => i.shard === ref.shard);
    if (!found) throw new RangeError(`manifest ${ref.manifestKey} has no shard ${ref.shard}`);
    item = found;
  } else {
    item = e.item as unknown as ShardItem;
  }
  return ingestShard(
    { ...(await deps.ingest()), rawStore: deps.rawStore, bronze: deps.bronze, log: deps.log },
    item,
    {
      failureThreshold: deps.failureThreshold,
      clockToleranceMinutes: deps.clockToleranceMinutes,
      onProgress: deps.onShardProgress && ((p) => deps.onShardProgress?.(item.shard, p)),
    },
  );
}

export async function completeIngestionTask(deps: IngestTaskDeps, event: unknown): Promise<IngestionSummary> {
  const e = parseEvent(
    completeEventSchema,
    event,
    '{ "action": "complete", "interval": "…", "shards": […] }',
  );
  return completeIngestion(
    { bronze: deps.bronze, log: deps.log },
    {
      interval: e.interval as Interval,
      source: deps.source,
      reports: e.shards as ShardReport[],
      failureThreshold: deps.failureThreshold,
    },
  );
}

/** The deps from the configuration and an open runtime (the Lambda's and the CLI's). */
export function ingestTaskDeps(
  config: Config,
  rt: Pick<Runtime, "rawStore" | "bronze">,
  log: Log,
  opts: { source?: ProviderSource; sites?: Site[]; onShardProgress?: IngestTaskDeps["onShardProgress"] } = {},
): IngestTaskDeps {
  const source = opts.source ?? config.WEATHER_SOURCE;
  const location = rawStoreLocation(config);
  return {
    rawStore: rt.rawStore,
    bronze: rt.bronze,
    log,
    source,
    ingest: async () => ({
      provider: await providerFor(config, source),
      policy: httpPolicyFromConfig(config),
    }),
    sites: async () => opts.sites ?? (await loadSites(config.SITES_FILE)),
    shardSize: config.INGEST_SHARD_SIZE,
    concurrency: config.INGEST_SHARD_CONCURRENCY,
    failureThreshold: config.SITE_FAILURE_THRESHOLD,
    clockToleranceMinutes: config.OBSERVATION_TIME_TOLERANCE_MINUTES,
    objects: location.startsWith("s3://") ? parseS3Url(location) : { bucket: "", prefix: "" },
    onShardProgress: opts.onShardProgress,
  };
}

/** The embedded engine's ingest tasks (core/workflow/embedded-engine.ts `localTasks`). */
export function localIngestTasks(deps: IngestTaskDeps) {
  return {
    PlanIngest: (input: unknown) => planIngestTask(deps, input),
    ReadManifest: (input: unknown) => readManifestTask(deps, input),
    IngestShard: async (input: unknown) => (await ingestShardTask(deps, input)).report,
    CompleteIngestion: (input: unknown) => completeIngestionTask(deps, input),
  };
}
