/**
 * Rebuild bronze for a range of intervals from raw objects alone — no API calls. `replayIntervals`
 * replays the live objects of each hour; `replayHistory` the history objects (core/use-cases/history.ts)
 * whose range overlaps the hours, each whole, run by run in fetch order.
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
import { type Interval, intervalRange, rangeLabel } from "../domain/interval.ts";
import { PROVIDER_SOURCES, type ProviderSource } from "../domain/observation.ts";
import type { Log } from "../observability/logger.ts";
import type {
  BronzeRepository,
  IngestionRunRecord,
  RawEnvelope,
  RawStore,
  SiteOutcome,
  WeatherProvider,
} from "../ports.ts";
import {
  DEFAULT_HISTORY_FAILURE_THRESHOLD,
  type HistoryResult,
  historyPrefix,
  historyResult,
  historyRunId,
  parseHistoryObjectKey,
} from "./history.ts";
import {
  DEFAULT_CLOCK_TOLERANCE_MINUTES,
  EnvelopeLoader,
  type IngestResult,
  ingestionRunId,
  intervalPrefix,
  openRunRecord,
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
  await deps.bronze.startRun(openRunRecord({ runId, source, interval, startedAt, sitesTotal: 0 }));
  const loader = new EnvelopeLoader(
    deps.providers[source],
    deps.bronze,
    deps.log,
    runId,
    args.clockToleranceMinutes ?? DEFAULT_CLOCK_TOLERANCE_MINUTES,
  );
  const { sites, latencies, skipped } = await loadObjects(deps, loader, keys, args.maxObjectBytes);
  await loader.flush();
  const result = summarize(loader, {
    runId,
    source,
    interval,
    sitesTotal: sites,
    latencies,
    failureThreshold: args.failureThreshold,
  });
  await finishReplay(deps, result, { ...result, startedAt }, skipped);
  deps.log.info("interval replayed", {
    runId,
    objects: keys.length,
    observations: result.observationsLoaded,
  });
  return result;
}

export interface HistoryReplayArgs {
  from: Interval;
  to: Interval;
  sources?: ProviderSource[];
  failureThreshold?: number;
  /** Objects larger than this are not read (RAW_MAX_OBJECT_BYTES). */
  maxObjectBytes?: number;
  onProgress?: (p: { runId: string; done: number; total: number }) => void;
}

/**
 * Replays the history objects whose range overlaps [from, to]: each whole (a history row depends on
 * its object, not on the hours asked for), grouped by the run that fetched them, oldest run first, so
 * the rows are those the fetches wrote. Each run's ledger entry is rewritten from what was replayed.
 */
export async function replayHistory(deps: ReplayDeps, args: HistoryReplayArgs): Promise<HistoryResult[]> {
  const runs: { source: ProviderSource; token: string; keys: string[] }[] = [];
  for (const source of args.sources ?? PROVIDER_SOURCES) {
    // Keys sort by run token (its start instant first): fetch order.
    for (const key of await deps.rawStore.list(historyPrefix(source))) {
      const parsed = parseHistoryObjectKey(key);
      if (!parsed || parsed.to < args.from || parsed.from > args.to) continue;
      const last = runs.at(-1);
      if (last?.source === source && last.token === parsed.runToken) last.keys.push(key);
      else runs.push({ source, token: parsed.runToken, keys: [key] });
    }
  }
  const results: HistoryResult[] = [];
  for (const [i, run] of runs.entries()) {
    results.push(await replayHistoryRun(deps, run.source, run.token, run.keys, args));
    args.onProgress?.({ runId: historyRunId(run.source, run.token), done: i + 1, total: runs.length });
  }
  return results;
}

async function replayHistoryRun(
  deps: ReplayDeps,
  source: ProviderSource,
  token: string,
  keys: string[],
  args: HistoryReplayArgs,
): Promise<HistoryResult> {
  const ranges = keys.flatMap((k) => parseHistoryObjectKey(k) ?? []);
  const from = ranges.map((r) => r.from).reduce((a, b) => (b < a ? b : a));
  const to = ranges.map((r) => r.to).reduce((a, b) => (b > a ? b : a));
  const runId = historyRunId(source, token);
  const startedAt = new Date();
  // The ledger keeps the label the fetch recorded (startRun does not rewrite `interval`).
  const run = openRunRecord({ runId, source, interval: rangeLabel(from, to), startedAt, sitesTotal: 0 });
  await deps.bronze.startRun(run);
  const loader = new EnvelopeLoader(
    deps.providers[source],
    deps.bronze,
    deps.log,
    runId,
    DEFAULT_CLOCK_TOLERANCE_MINUTES,
  );
  const { sites, latencies, skipped } = await loadObjects(deps, loader, keys, args.maxObjectBytes);
  await loader.flush();
  const result = historyResult(loader, {
    runId,
    source,
    from,
    to,
    sitesTotal: sites,
    latencies,
    failureThreshold: args.failureThreshold ?? DEFAULT_HISTORY_FAILURE_THRESHOLD,
    requests: 0,
    weightedCalls: 0,
  });
  await finishReplay(deps, result, { ...run, ...result, interval: run.interval }, skipped);
  deps.log.info("history run replayed", {
    runId,
    objects: keys.length,
    observations: result.observationsLoaded,
  });
  return result;
}

/**
 * Closes a replayed run: an object that could not be read fails it and is named (the result, which
 * the caller returns, says so too).
 */
async function finishReplay(
  deps: ReplayDeps,
  result: {
    status: "succeeded" | "failed";
    sites: SiteOutcome[];
    skippedObjects?: { key: string; reason: string }[];
  },
  ledger: Omit<IngestionRunRecord, "status">,
  skipped: { key: string; reason: string }[],
): Promise<void> {
  if (skipped.length > 0) {
    result.status = "failed";
    result.skippedObjects = skipped;
  }
  const error =
    skipped.length > 0 ? `${skipped.length} raw object(s) not replayed: ${skipped[0]?.reason}` : null;
  await deps.bronze.finishRun(
    { ...ledger, status: result.status, finishedAt: new Date(), error },
    result.sites,
  );
}

/**
 * Loads `keys` in order through `loader`, one object at a time, restoring the site dimension from the
 * envelopes; an unreadable object is skipped with its reason. Returns the distinct sites seen.
 */
async function loadObjects(
  deps: ReplayDeps,
  loader: EnvelopeLoader,
  keys: string[],
  maxObjectBytes: number | undefined,
): Promise<{ sites: number; latencies: number[]; skipped: { key: string; reason: string }[] }> {
  const sites = new Map<string, RawEnvelope["sites"][number]>();
  const latencies: number[] = [];
  const skipped: { key: string; reason: string }[] = [];
  for (const key of keys) {
    let envelope: RawEnvelope;
    try {
      envelope = readEnvelope(await deps.rawStore.get(key, { maxBytes: maxObjectBytes }));
    } catch (e) {
      // One unreadable object must not hide the rest; the run is failed and names it.
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
  return { sites: sites.size, latencies, skipped };
}

/** Parses a landed object, refusing anything that is not an envelope (a stray or corrupt file). */
function readEnvelope(text: string): RawEnvelope {
  const value = JSON.parse(text) as Partial<RawEnvelope> | null;
  if (value?.version !== 1 || !Array.isArray(value.sites) || typeof value.body !== "string")
    throw new Error("not a raw envelope (version 1 with sites and body)");
  return value as RawEnvelope;
}
