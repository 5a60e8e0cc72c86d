/**
 * Ingest one interval for a list of sites.
 *
 * Steps:
 * 1. Open the run in the ledger (run id = source + interval, so a re-run is the same run, attempt + 1)
 *    and upsert the sites into the site dimension.
 * 2. Split the sites into the provider's batches; fetch each through the provider's request queue
 *    (rate limit, bounded concurrency) with timeouts and retries.
 * 3. Land every response raw — errors included — before parsing. Raw is append-only: every HTTP
 *    attempt of every run gets its own key (run token + batch + try), never overwritten, so the
 *    objects a bronze or quarantine row names are exactly the ones it came from.
 * 4. Process the landed envelope: ok observations → bronze upsert; contract failures and observations
 *    far from the interval (clock) → quarantine with the reason; HTTP failures → failed sites. One bad
 *    batch never fails the others, except a rejected API key: it stops the run (queued batches
 *    dropped), which is recorded failed and rethrown.
 * 5. Close the run with counts, fetch latency percentiles and per-site outcomes.
 */

import { randomBytes } from "node:crypto";
import { type Interval, intervalStart, rangeLabel } from "../domain/interval.ts";
import type { ProviderSource } from "../domain/observation.ts";
import type { Site } from "../domain/sites.ts";
import type { Log } from "../observability/logger.ts";
import type {
  BronzeRepository,
  BronzeRow,
  IngestionRunRecord,
  QuarantineEntry,
  RawEnvelope,
  RawStore,
  SiteHistoryResult,
  SiteOutcome,
  SiteParseResult,
  SiteProblem,
  WeatherProvider,
} from "../ports.ts";
import {
  AuthenticationError,
  bodyExcerpt,
  createRequestQueue,
  fetchBatch,
  type HttpPolicy,
} from "../providers/http.ts";
import { ledgerSeededLimiter, type WeightedLimiter } from "../providers/limits.ts";

export interface IngestDeps {
  provider: WeatherProvider;
  rawStore: RawStore;
  bronze: BronzeRepository;
  policy: HttpPolicy;
  log: Log;
  /** Injected for the simulator and tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  clock?: () => Date;
  /** Names this run's raw objects; defaults to {@link newRunToken}. Tests pin it. */
  runToken?: string;
  /**
   * The provider's weighted-call limiter. Pass one to share it with other work of the same provider
   * in this process (a backfill fetching history while the live hour falls due); by default each run
   * gets its own, seeded from the ledger's usage of the last day (`bronze.weightedCallsSince`).
   */
  limiter?: WeightedLimiter;
}

export interface IngestArgs {
  interval: Interval;
  sites: Site[];
  /** The run fails when (failed + quarantined) / total exceeds this ratio. */
  failureThreshold: number;
  /**
   * Observations further than this from the interval are quarantined with a clock reason (default
   * {@link DEFAULT_CLOCK_TOLERANCE_MINUTES}; OBSERVATION_TIME_TOLERANCE_MINUTES).
   */
  clockToleranceMinutes?: number;
  onProgress?: (progress: { sitesDone: number; sitesTotal: number }) => void;
  /**
   * One shard of a sharded run (core/use-cases/shards.ts, which holds the run's lease meanwhile): the
   * interval's run was opened by the plan, so this invocation adds its sites' outcomes, raw keys and
   * weighted calls to it instead of opening and closing it; the completion step counts the run.
   */
  shard?: { index: number; of: number };
}

export interface IngestResult {
  runId: string;
  source: ProviderSource;
  interval: Interval;
  status: "succeeded" | "failed";
  sitesTotal: number;
  sitesOk: number;
  sitesFailed: number;
  sitesQuarantined: number;
  /** (failed + quarantined) / total */
  siteFailureRatio: number;
  observationsLoaded: number;
  /** Bronze rows inserted or changed (0 when an interval is re-run with identical payloads). */
  rowsChanged: number;
  fetchLatencyP50Ms: number | null;
  fetchLatencyP95Ms: number | null;
  /** Every attempt's latency, for the FetchLatencyMs metric. */
  fetchLatenciesMs: number[];
  dbErrors: number;
  rawObjectKeys: string[];
  sites: SiteOutcome[];
  /** Replay only: objects that could not be read (too large, not an envelope), with the reason. */
  skippedObjects?: { key: string; reason: string }[];
}

/** Providers update "current" every 10-15 minutes; an hour either side of the interval is generous. */
export const DEFAULT_CLOCK_TOLERANCE_MINUTES = 60;

/** Run ids derive from the interval, so a duplicate trigger is the same run. */
export const ingestionRunId = (source: ProviderSource, interval: Interval): string => `${source}:${interval}`;

/**
 * `source=open-meteo/date=2026-11-22/hour=13/interval=2026-11-22T13/run=20261122T130012345Z-1a2b3c/batch-0001-try-01.json`
 *
 * Keys of one interval sort in the order their objects were fetched (run token first, then batch and
 * try), which is the order a replay applies them in, so it rebuilds exactly what ingestion wrote.
 */
export function rawObjectKey(
  source: ProviderSource,
  interval: Interval,
  runToken: string,
  batch: number,
  attempt: number,
): string {
  const b = String(batch).padStart(4, "0");
  const t = String(attempt).padStart(2, "0");
  return `${intervalPrefix(source, interval)}run=${runToken}/batch-${b}-try-${t}.json`;
}

/**
 * A sortable, unique token for one ingestion of one interval: its start instant plus random bits
 * (and, for one shard of a sharded run, `-shard-0003-of-0008`).
 */
export function newRunToken(now: Date = new Date(), shard?: { index: number; of: number }): string {
  const stamp = now.toISOString().replace(/[-:.]/g, "");
  const part = shard ? `-shard-${pad4(shard.index)}-of-${pad4(shard.of)}` : "";
  return `${stamp}-${randomBytes(3).toString("hex")}${part}`;
}

const pad4 = (n: number) => String(n).padStart(4, "0");

export function intervalPrefix(source: ProviderSource, interval: Interval): string {
  return `source=${source}/date=${interval.slice(0, 10)}/hour=${interval.slice(11, 13)}/interval=${interval}/`;
}

/** Ingests one interval; see the module header for the steps. */
export async function ingestInterval(deps: IngestDeps, args: IngestArgs): Promise<IngestResult> {
  const { provider, rawStore, bronze, log } = deps;
  const clock = deps.clock ?? (() => new Date());
  const runId = ingestionRunId(provider.source, args.interval);
  const startedAt = clock();
  const batches = chunk(args.sites, provider.batchSize);
  const run = openRunRecord({
    runId,
    source: provider.source,
    interval: args.interval,
    startedAt,
    sitesTotal: args.sites.length,
  });
  // Real time, not `clock`: the limiter paces real requests (tests pin the clock to old hours).
  const limiter = deps.limiter ?? (await ledgerSeededLimiter(provider.source, provider.limits, bronze));
  // A batch heavier than a whole window could never be sent: say so before anything is fetched.
  for (const sites of batches) limiter.assertFits(provider.requestWeight(sites));
  const shard = args.shard;
  if (!shard) await bronze.startRun(run);
  await bronze.upsertSites(args.sites);
  log.info("ingestion started", {
    runId,
    interval: args.interval,
    sites: args.sites.length,
    batches: batches.length,
    ...(shard ? { shard: shard.index, shards: shard.of } : {}),
  });

  // A shard's objects sit under a token of their own: shards of one hour run at once.
  const runToken = deps.runToken ?? newRunToken(startedAt, shard);
  const loader = new EnvelopeLoader(
    provider,
    bronze,
    log,
    runId,
    args.clockToleranceMinutes ?? DEFAULT_CLOCK_TOLERANCE_MINUTES,
  );
  const latencies: number[] = [];
  const queue = createRequestQueue(provider, { limiter });
  // A rejected key fails every request alike: the first rejection drops the queued batches and aborts
  // the ones in flight, and the run ends failed with that error.
  const stop = new AbortController();
  let fatal: { error: AuthenticationError; batch: number } | undefined;
  let sitesDone = 0;
  await Promise.all(
    batches.map((sites, i) =>
      (async () => {
        const batch = i + 1;
        // What the provider bills for this request (Open-Meteo: locations × the variable factor).
        const weight = provider.requestWeight(sites);
        // The key of the attempt that was parsed (the last one): every attempt lands under its own.
        let key = rawObjectKey(provider.source, args.interval, runToken, batch, 1);
        const landings = attemptLandings(rawStore);
        let envelope: RawEnvelope;
        try {
          // Only the request holds a queue slot: its response lands beside the next request
          // (attemptLandings), and parsing and the bronze write happen after the slot is freed.
          envelope = await queue.add(
            async () => {
              try {
                return await fetchBatch({
                  provider,
                  sites,
                  interval: args.interval,
                  batch,
                  policy: deps.policy,
                  fetchImpl: deps.fetchImpl,
                  signal: stop.signal,
                  beforeRetry: async () => {
                    await landings.landed();
                    await queue.acquire(weight, stop.signal);
                  },
                  onResponse: async (attempt) => {
                    latencies.push(attempt.latencyMs);
                    key = rawObjectKey(provider.source, args.interval, runToken, batch, attempt.attempt);
                    landings.land(key, JSON.stringify(attempt));
                  },
                });
              } catch (e) {
                // Stopped inside the task, before p-queue can start the next one.
                if (e instanceof AuthenticationError && !stop.signal.aborted) {
                  fatal = { error: e, batch };
                  stop.abort(e);
                  queue.dropQueued(e);
                }
                throw e;
              }
            },
            { weight },
          );
          await landings.landed();
        } catch (e) {
          const unlanded = await landings.failure();
          if (fatal) {
            const rejected = fatal.batch === batch;
            const reason = fatal.error.message;
            const landedKey = rejected && !unlanded ? key : null;
            loader.fail(sites, rejected ? reason : `not fetched: ${reason}`, landedKey);
            return;
          }
          // Landing failed (or a bug): the batch's sites fail, the others go on.
          const error = unlanded ?? (e as Error);
          const reason = `could not fetch or land batch ${batch}: ${error.message}`;
          log.error("batch failed before parsing", { batch, error: error.message });
          loader.fail(sites, reason, key);
          return;
        }
        await loader.load(envelope, key);
        sitesDone += sites.length;
        args.onProgress?.({ sitesDone, sitesTotal: args.sites.length });
      })(),
    ),
  );
  await loader.flush();

  const result = summarize(loader, {
    runId,
    source: provider.source,
    interval: args.interval,
    sitesTotal: args.sites.length,
    latencies,
    failureThreshold: args.failureThreshold,
  });
  if (shard) {
    // The shard's part of the run; the completion step sets the status from every shard's sites.
    await bronze.recordShard(runId, result.sites, {
      rawObjectKeys: result.rawObjectKeys,
      weightedCalls: queue.weightedCalls,
    });
    if (fatal) throw fatal.error;
    log.info("ingestion shard finished", {
      runId,
      interval: args.interval,
      shard: shard.index,
      shards: shard.of,
      sitesOk: result.sitesOk,
      sitesFailed: result.sitesFailed,
      sitesQuarantined: result.sitesQuarantined,
      observationsLoaded: result.observationsLoaded,
    });
    return result;
  }
  if (fatal) {
    // Recorded before rethrowing, so the ledger says why the run stopped; the caller exits 2.
    await bronze.finishRun(
      {
        ...run,
        ...result,
        status: "failed",
        error: fatal.error.message,
        startedAt,
        finishedAt: clock(),
        weightedCalls: queue.weightedCalls,
      },
      result.sites,
    );
    log.error("ingestion stopped", { runId, error: fatal.error.message });
    throw fatal.error;
  }
  await bronze.finishRun(
    { ...run, ...result, startedAt, finishedAt: clock(), weightedCalls: queue.weightedCalls },
    result.sites,
  );
  log.info("ingestion finished", {
    runId,
    status: result.status,
    sitesOk: result.sitesOk,
    sitesFailed: result.sitesFailed,
    sitesQuarantined: result.sitesQuarantined,
    observationsLoaded: result.observationsLoaded,
  });
  return result;
}

/**
 * The raw landings of one request's attempts, kept off the request's queue slot: `land` starts the
 * put the moment an attempt arrives, so the slot goes to the next request without waiting for the
 * store (an S3 put takes tens of ms; at 10 requests in flight, landing inside the slot cost about a
 * sixth of the fetch throughput in bench:ingest). Await `landed()` before a retry, so a store that
 * fails stops the request as it did, and before parsing, so every object a bronze or quarantine row
 * names exists; `failure()` settles them all before a failure is recorded and returns the first
 * landing error, if any.
 */
export function attemptLandings(rawStore: RawStore) {
  const puts: Promise<void>[] = [];
  return {
    land(key: string, body: string): void {
      const put = rawStore.put(key, body);
      put.catch(() => {}); // awaited in landed() or failure(): not an unhandled rejection
      puts.push(put);
    },
    async landed(): Promise<void> {
      await Promise.all(puts);
    },
    async failure(): Promise<Error | undefined> {
      const failed = (await Promise.allSettled(puts)).find((r) => r.status === "rejected");
      return failed?.reason as Error | undefined;
    },
  };
}

/**
 * Turns landed envelopes into bronze rows, quarantine entries and per-site outcomes. Shared by
 * ingestion, history and replay, so all give the same rows for the same raw objects. An envelope with
 * a `range` is a history request: its provider's history parser reads it (many hours per site).
 */
export class EnvelopeLoader {
  /**
   * The latest outcome per site (live), or per site and history range: a retry's outcome replaces
   * the failed attempt's, and a site's ranges stay apart until {@link siteOutcomes} combines them.
   */
  readonly outcomes = new Map<string, SiteOutcome>();
  readonly keys = new Set<string>();
  observationsLoaded = 0;
  rowsChanged = 0;
  dbErrors = 0;
  private pending: { rows: BronzeRow[]; quarantine: QuarantineEntry[]; outcomeIds: string[] } = {
    rows: [],
    quarantine: [],
    outcomeIds: [],
  };
  // Bronze writes under way. Parsing goes on while they run; a flush waits only when `writers` are busy.
  private readonly inFlight = new Set<Promise<void>>();
  private readonly flushRows: number;
  private readonly writers: number;

  constructor(
    private readonly provider: WeatherProvider,
    private readonly bronze: BronzeRepository,
    private readonly log: Log,
    private readonly runId: string,
    private readonly clockToleranceMinutes: number,
    opts: LoaderOptions = {},
  ) {
    this.flushRows = opts.flushRows ?? 1000;
    // Never more than the repository can take at once (embedded PGlite: one session, one write).
    this.writers = Math.max(1, Math.min(opts.writers ?? 1, bronze.maxConcurrentWrites ?? 1));
  }

  fail(sites: Site[], reason: string, key: string | null, range?: RawEnvelope["range"]): void {
    for (const s of sites)
      this.outcomes.set(outcomeId(s.id, range), {
        siteId: s.id,
        status: "failed",
        reason,
        rawObjectKey: key,
      });
  }

  async load(envelope: RawEnvelope, key: string): Promise<void> {
    this.keys.add(key);
    for (const result of this.parse(envelope)) {
      const id = outcomeId(result.siteId, envelope.range);
      if (result.status === "ok") {
        for (const observation of result.observations) {
          this.pending.rows.push({
            ...observation,
            // The envelope's label wins over the parser's dialect: simulator data parsed as Open-Meteo
            // stays labelled `simulator`.
            source: envelope.source,
            ingestionRunId: this.runId,
            // Load-time columns come from the envelope, so a replay writes the same bytes.
            ingestedAt: new Date(envelope.fetchedAt),
            rawObjectKey: key,
          });
        }
        this.pending.outcomeIds.push(id);
      } else if (result.status === "quarantined") {
        this.pending.quarantine.push({
          source: envelope.source,
          interval: envelope.range ? rangeLabel(envelope.range.from, envelope.range.to) : envelope.interval,
          siteId: result.siteId,
          rawObjectKey: key,
          reason: result.reason,
          excerpt: excerptOf(result.payload),
          ingestionRunId: this.runId,
          quarantinedAt: new Date(envelope.fetchedAt),
        });
        this.log.warn("payload quarantined", {
          siteId: result.siteId,
          reason: result.reason,
          rawObjectKey: key,
        });
      } else {
        this.log.warn("site failed", { siteId: result.siteId, reason: result.reason, rawObjectKey: key });
      }
      this.outcomes.set(id, {
        siteId: result.siteId,
        status: result.status,
        reason: result.status === "ok" ? null : result.reason,
        rawObjectKey: key,
      });
    }
    if (this.pending.rows.length + this.pending.quarantine.length >= this.flushRows) await this.startWrite();
  }

  /**
   * One outcome per site, by site id. A history site's ranges combine: its first failed range speaks
   * for it, else its first quarantined one, else it is ok (the reason names the range).
   */
  siteOutcomes(): SiteOutcome[] {
    const rank = { failed: 2, quarantined: 1, ok: 0 } as const;
    const bySite = new Map<string, SiteOutcome>();
    for (const [id, outcome] of this.outcomes) {
      const prior = bySite.get(outcome.siteId);
      if (prior && rank[prior.status] >= rank[outcome.status]) continue;
      const range = id.split("\u0000")[1];
      const reason = range && outcome.reason !== null ? `${range}: ${outcome.reason}` : outcome.reason;
      bySite.set(outcome.siteId, { ...outcome, reason });
    }
    return [...bySite.values()].sort((a, b) => a.siteId.localeCompare(b.siteId));
  }

  /** Per-site results with all their observations: history envelopes by range, live ones clock-checked. */
  private parse(envelope: RawEnvelope): SiteHistoryResult[] {
    if (envelope.range) return parseHistorySafely(this.provider, envelope);
    return parseSafely(this.provider, envelope).map((r) => {
      const checked = r.status === "ok" ? this.checkClock(r, envelope) : r;
      return checked.status === "ok"
        ? { siteId: checked.siteId, status: "ok", observations: [checked.observation] }
        : checked;
    });
  }

  /**
   * An observation further than the tolerance from its interval (a provider clock or time-zone bug,
   * a stale cache) would be filed under the wrong hour: quarantine it with a clock reason instead.
   */
  private checkClock(r: Extract<SiteParseResult, { status: "ok" }>, envelope: RawEnvelope): SiteParseResult {
    const start = intervalStart(envelope.interval).getTime();
    const tolerance = this.clockToleranceMinutes * 60_000;
    const at = r.observation.observedAt.getTime();
    if (at >= start - tolerance && at < start + 3_600_000 + tolerance) return r;
    const offMinutes = Math.round((at < start ? start - at : at - start - 3_600_000) / 60_000);
    return {
      siteId: r.siteId,
      status: "quarantined",
      reason:
        `clock: observed at ${r.observation.observedAt.toISOString()}, ${offMinutes} min outside interval ` +
        `${envelope.interval} (tolerance ${this.clockToleranceMinutes} min, OBSERVATION_TIME_TOLERANCE_MINUTES)`,
      payload: r.observation.payload,
    };
  }

  /** Writes what is pending and waits for every write under way. */
  async flush(): Promise<void> {
    await this.startWrite();
    await Promise.all(this.inFlight);
  }

  /**
   * Starts writing what is pending once a writer is free, without waiting for the write. With one
   * writer the batches land in order; more than one is for callers whose batches never share a key
   * (a history run: its requests cover disjoint site-hours), since two concurrent upserts of one key
   * could commit in either order.
   */
  private async startWrite(): Promise<void> {
    const batch = this.pending;
    this.pending = { rows: [], quarantine: [], outcomeIds: [] };
    if (batch.rows.length === 0 && batch.quarantine.length === 0) return;
    while (this.inFlight.size >= this.writers) await Promise.race(this.inFlight);
    const write: Promise<void> = this.write(batch).finally(() => this.inFlight.delete(write));
    this.inFlight.add(write);
  }

  /** Writes one batch; a database error fails those sites (counted as DbErrors), not the run. */
  private async write(batch: EnvelopeLoader["pending"]): Promise<void> {
    try {
      this.rowsChanged += await this.bronze.upsertObservations(collapseSameKey(batch.rows));
      await this.bronze.quarantine(batch.quarantine);
      this.observationsLoaded += batch.rows.length;
    } catch (e) {
      this.dbErrors += 1;
      const reason = `database write failed: ${(e as Error).message}`;
      this.log.error("bronze write failed", { error: (e as Error).message, rows: batch.rows.length });
      for (const id of batch.outcomeIds) {
        const prior = this.outcomes.get(id);
        this.outcomes.set(id, {
          siteId: prior?.siteId ?? id,
          status: "failed",
          reason,
          rawObjectKey: prior?.rawObjectKey ?? null,
        });
      }
    }
  }
}

/** How an {@link EnvelopeLoader} batches its bronze writes. */
export interface LoaderOptions {
  /** Rows (plus quarantine entries) gathered before a write starts; default 1000. */
  flushRows?: number;
  /** Writes at once, capped by the repository's `maxConcurrentWrites`; default 1 (in order). */
  writers?: number;
}

/**
 * One row per bronze key (site, source, observed_at, kind), as if the rows were upserted one after
 * another: a later row replaces an earlier one only when its payload differs (the upsert's own
 * rule). A replay meets the same key twice when two runs of an hour saw the same observation; one
 * statement cannot upsert a key twice.
 */
export function collapseSameKey(rows: BronzeRow[]): BronzeRow[] {
  const byKey = new Map<string, BronzeRow>();
  for (const row of rows) {
    const key = `${row.siteId}\u0000${row.source}\u0000${row.observedAt.getTime()}\u0000${row.kind}`;
    const prior = byKey.get(key);
    if (!prior || JSON.stringify(prior.payload) !== JSON.stringify(row.payload)) byKey.set(key, row);
  }
  return byKey.size === rows.length ? rows : [...byKey.values()];
}

/** A bounded excerpt of a payload for quarantine: the raw object holds the whole body once. */
export function excerptOf(payload: unknown): string {
  let text: string;
  try {
    text = typeof payload === "string" ? payload : (JSON.stringify(payload) ?? "null");
  } catch {
    text = String(payload);
  }
  return bodyExcerpt(text);
}

/** Live outcomes are keyed by site; history outcomes by site and range, combined by `siteOutcomes`. */
export function outcomeId(siteId: string, range: RawEnvelope["range"]): string {
  return range ? `${siteId}\u0000${rangeLabel(range.from, range.to)}` : siteId;
}

/** {@link parseSafely} for history envelopes; a provider without history quarantines the envelope. */
function parseHistorySafely(provider: WeatherProvider, envelope: RawEnvelope): SiteHistoryResult[] {
  return quarantineOnThrow(envelope, () => {
    if (!provider.history) throw new Error(`${provider.source} has no history parser`);
    return provider.history.parse(envelope);
  });
}

/** A provider bug must not lose the batch: the envelope is already landed, so quarantine it whole. */
function parseSafely(provider: WeatherProvider, envelope: RawEnvelope): SiteParseResult[] {
  return quarantineOnThrow(envelope, () => provider.parse(envelope));
}

function quarantineOnThrow<T>(envelope: RawEnvelope, parse: () => T[]): (T | SiteProblem)[] {
  try {
    return parse();
  } catch (e) {
    const reason = `parser error: ${(e as Error).message}`;
    return envelope.sites.map((s) => ({
      siteId: s.id,
      status: "quarantined",
      reason,
      payload: envelope.body,
    }));
  }
}

/** A ledger row for a run that is starting: nothing counted yet. */
export function openRunRecord(
  meta: Pick<IngestionRunRecord, "runId" | "source" | "interval" | "startedAt" | "sitesTotal">,
): IngestionRunRecord {
  return {
    ...meta,
    status: "running",
    sitesOk: 0,
    sitesFailed: 0,
    sitesQuarantined: 0,
    observationsLoaded: 0,
    fetchLatencyP50Ms: null,
    fetchLatencyP95Ms: null,
    rawObjectKeys: [],
  };
}

export function summarize(
  loader: EnvelopeLoader,
  meta: {
    runId: string;
    source: ProviderSource;
    interval: Interval;
    sitesTotal: number;
    latencies: number[];
    failureThreshold: number;
  },
): IngestResult {
  const sites = loader.siteOutcomes();
  return {
    runId: meta.runId,
    source: meta.source,
    interval: meta.interval,
    ...countOutcomes(sites, meta.sitesTotal, meta.failureThreshold),
    sitesTotal: meta.sitesTotal,
    observationsLoaded: loader.observationsLoaded,
    rowsChanged: loader.rowsChanged,
    fetchLatencyP50Ms: percentile(meta.latencies, 0.5),
    fetchLatencyP95Ms: percentile(meta.latencies, 0.95),
    fetchLatenciesMs: meta.latencies,
    dbErrors: loader.dbErrors,
    rawObjectKeys: [...loader.keys].sort(),
    sites,
  };
}

/** Site counts and the run status: failed when (failed + quarantined) / total exceeds the threshold. */
export function countOutcomes(
  sites: SiteOutcome[],
  sitesTotal: number,
  failureThreshold: number,
): Pick<IngestResult, "status" | "sitesOk" | "sitesFailed" | "sitesQuarantined" | "siteFailureRatio"> {
  const count = (s: SiteOutcome["status"]) => sites.filter((o) => o.status === s).length;
  const sitesOk = count("ok");
  const sitesFailed = count("failed");
  const sitesQuarantined = count("quarantined");
  const ratio = sitesTotal === 0 ? 0 : (sitesFailed + sitesQuarantined) / sitesTotal;
  return {
    status: ratio > failureThreshold ? "failed" : "succeeded",
    sitesOk,
    sitesFailed,
    sitesQuarantined,
    siteFailureRatio: ratio,
  };
}

/** Nearest-rank percentile; null for no samples. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? null;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
