/**
 * Rebuild bronze for a range of intervals from raw objects alone — no API calls.
 *
 * Steps:
 * 1. For each interval (oldest first) and each source, list the landed envelopes. Raw is append-only
 *    and keys sort in fetch order, so every attempt of every run is there, in the order ingestion
 *    applied them.
 * 2. Parse each, one object at a time (memory bounded by one object of at most RAW_MAX_OBJECT_BYTES;
 *    a larger or unreadable object is skipped with its reason and fails the run), through the same loader
 *    ingestion uses: the same raw objects give the same rows, byte for byte — load-time columns come
 *    from the envelope, not from the clock.
 * 3. Rewrite the run's ledger entry from what was replayed (the latest outcome per site wins).
 * Idempotent: replaying twice changes nothing the first replay did not.
 */
import { type Interval, intervalRange } from "../domain/interval.ts";
import { PROVIDER_SOURCES, type ProviderSource } from "../domain/observation.ts";
import type { Log } from "../observability/logger.ts";
import type { BronzeRepository, RawEnvelope, RawStore, WeatherProvider } from "../ports.ts";
import {
  DEFAULT_CLOCK_TOLERANCE_MINUTES,
  EnvelopeLoader,
  type IngestResult,
  ingestionRunId,
  intervalPrefix,
  summarize,
} from "./ingest.ts";

export interface ReplayDeps {
  rawStore: RawStore;
  bronze: BronzeRepository;
  log: Log;
  /** Parsers by source; parsing is pure, so no API key is needed. */
  providers: Record<ProviderSource, WeatherProvider>;
}

export interface ReplayArgs {
  from: Interval;
  to: Interval;
  sources?: ProviderSource[];
  failureThreshold: number;
  /** Must match ingestion's (OBSERVATION_TIME_TOLERANCE_MINUTES) for an identical rebuild. */
  clockToleranceMinutes?: number;
  /** Objects larger than this are not read (RAW_MAX_OBJECT_BYTES): memory per object stays bounded. */
  maxObjectBytes?: number;
  onProgress?: (p: { interval: Interval; done: number; total: number }) => void;
}

export async function replayIntervals(deps: ReplayDeps, args: ReplayArgs): Promise<IngestResult[]> {
  const results: IngestResult[] = [];
  const intervals = intervalRange(args.from, args.to);
  for (const [i, interval] of intervals.entries()) {
    for (const source of args.sources ?? PROVIDER_SOURCES) {
      const result = await replayOne(deps, source, interval, args);
      if (result) results.push(result);
    }
    args.onProgress?.({ interval, done: i + 1, total: intervals.length });
  }
  return results;
}

async function replayOne(
  deps: ReplayDeps,
  source: ProviderSource,
  interval: Interval,
  args: ReplayArgs,
): Promise<IngestResult | null> {
  const keys = (await deps.rawStore.list(intervalPrefix(source, interval))).filter((k) =>
    k.endsWith(".json"),
  );
  if (keys.length === 0) return null;
  const runId = ingestionRunId(source, interval);
  const startedAt = new Date();
  await deps.bronze.startRun({
    runId,
    source,
    interval,
    startedAt,
    status: "running",
    sitesTotal: 0,
    sitesOk: 0,
    sitesFailed: 0,
    sitesQuarantined: 0,
    observationsLoaded: 0,
    fetchLatencyP50Ms: null,
    fetchLatencyP95Ms: null,
    rawObjectKeys: [],
  });
  const loader = new EnvelopeLoader(
    deps.providers[source],
    deps.bronze,
    deps.log,
    runId,
    args.clockToleranceMinutes ?? DEFAULT_CLOCK_TOLERANCE_MINUTES,
  );
  const sites = new Map<string, RawEnvelope["sites"][number]>();
  const latencies: number[] = [];
  const skipped: { key: string; reason: string }[] = [];
  for (const key of keys) {
    let envelope: RawEnvelope;
    try {
      envelope = readEnvelope(await deps.rawStore.get(key, { maxBytes: args.maxObjectBytes }));
    } catch (e) {
      // One unreadable object must not hide the rest of the hour; the run is failed and names it.
      skipped.push({ key, reason: (e as Error).message });
      deps.log.error("raw object not replayed", { rawObjectKey: key, error: (e as Error).message });
      continue;
    }
    latencies.push(envelope.latencyMs);
    // The envelopes carry the sites they asked for, so the site dimension can be restored from raw too.
    const fresh = envelope.sites.filter((s) => !sites.has(s.id));
    for (const s of fresh) sites.set(s.id, s);
    if (fresh.length > 0) await deps.bronze.upsertSites(fresh);
    await loader.load(envelope, key);
  }
  await loader.flush();
  const result = summarize(loader, {
    runId,
    source,
    interval,
    sitesTotal: sites.size,
    latencies,
    failureThreshold: args.failureThreshold,
  });
  if (skipped.length > 0) {
    result.status = "failed";
    result.skippedObjects = skipped;
  }
  await deps.bronze.finishRun(
    {
      ...result,
      startedAt,
      finishedAt: new Date(),
      error:
        skipped.length > 0 ? `${skipped.length} raw object(s) not replayed: ${skipped[0]?.reason}` : null,
    },
    result.sites,
  );
  deps.log.info("interval replayed", {
    runId,
    objects: keys.length,
    observations: result.observationsLoaded,
  });
  return result;
}

/** Parses a landed object, refusing anything that is not an envelope (a stray or corrupt file). */
function readEnvelope(text: string): RawEnvelope {
  const value = JSON.parse(text) as Partial<RawEnvelope> | null;
  if (value?.version !== 1 || !Array.isArray(value.sites) || typeof value.body !== "string")
    throw new Error("not a raw envelope (version 1 with sites and body)");
  return value as RawEnvelope;
}
