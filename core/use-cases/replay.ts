/**
 * Rebuild bronze for a range of intervals from raw objects alone — no API calls.
 *
 * Steps:
 * 1. For each interval (oldest first) and each source, list the landed envelopes.
 * 2. Parse each through the same loader ingestion uses, so the same raw objects give the same rows.
 * 3. Rewrite the run's ledger entry from what was replayed.
 * Idempotent: replaying twice changes nothing the first replay did not.
 */
import { type Interval, intervalRange } from "../domain/interval.ts";
import { PROVIDER_SOURCES, type ProviderSource } from "../domain/observation.ts";
import type { Log } from "../observability/logger.ts";
import type { BronzeRepository, RawEnvelope, RawStore, WeatherProvider } from "../ports.ts";
import { EnvelopeLoader, type IngestResult, ingestionRunId, intervalPrefix, summarize } from "./ingest.ts";

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
  onProgress?: (p: { interval: Interval; done: number; total: number }) => void;
}

export async function replayIntervals(deps: ReplayDeps, args: ReplayArgs): Promise<IngestResult[]> {
  const results: IngestResult[] = [];
  const intervals = intervalRange(args.from, args.to);
  for (const [i, interval] of intervals.entries()) {
    for (const source of args.sources ?? PROVIDER_SOURCES) {
      const result = await replayOne(deps, source, interval, args.failureThreshold);
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
  failureThreshold: number,
): Promise<IngestResult | null> {
  const keys = (await deps.rawStore.list(intervalPrefix(source, interval))).filter((k) =>
    k.endsWith(".json"),
  );
  if (keys.length === 0) return null;
  const runId = ingestionRunId(source, interval);
  const envelopes: { key: string; envelope: RawEnvelope }[] = [];
  for (const key of keys)
    envelopes.push({ key, envelope: JSON.parse(await deps.rawStore.get(key)) as RawEnvelope });
  const sitesTotal = envelopes.reduce((n, e) => n + e.envelope.sites.length, 0);
  const startedAt = new Date();
  await deps.bronze.startRun({
    runId,
    source,
    interval,
    startedAt,
    status: "running",
    sitesTotal,
    sitesOk: 0,
    sitesFailed: 0,
    sitesQuarantined: 0,
    observationsLoaded: 0,
    fetchLatencyP50Ms: null,
    fetchLatencyP95Ms: null,
    rawObjectKeys: [],
  });
  // The envelopes carry the sites they asked for, so the site dimension can be restored from raw too.
  await deps.bronze.upsertSites([
    ...new Map(envelopes.flatMap((e) => e.envelope.sites).map((s) => [s.id, s])).values(),
  ]);
  const loader = new EnvelopeLoader(deps.providers[source], deps.bronze, deps.log, runId);
  for (const { key, envelope } of envelopes) await loader.load(envelope, key);
  await loader.flush();
  const result = summarize(loader, {
    runId,
    source,
    interval,
    sitesTotal,
    // Only the landed (final) attempt of each batch survives in raw, so these are its latencies.
    latencies: envelopes.map((e) => e.envelope.latencyMs),
    failureThreshold,
  });
  await deps.bronze.finishRun({ ...result, startedAt, finishedAt: new Date() }, result.sites);
  deps.log.info("interval replayed", {
    runId,
    objects: keys.length,
    observations: result.observationsLoaded,
  });
  return result;
}
