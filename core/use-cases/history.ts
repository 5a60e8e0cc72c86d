/**
 * Fetch real hourly history for a range of hours and a list of sites (backfill, heal).
 *
 * Steps:
 * 1. Plan ({@link planHistory}): hours from 00:00 UTC `recentDays` days ago on (Open-Meteo: 92) go to
 *    the provider's `forecast` endpoint, older ones to `archive`; a range crossing that boundary is
 *    split there. Each side is cut into windows of at most {@link HISTORY_CHUNK_DAYS} calendar days
 *    (the provider's weight unit) and the sites into batches of the provider's batch size: one request
 *    per window × batch. Hours after the current one are not history and are left out.
 * 2. Open the run in the ledger (run id `<source>:history:<run token>`, never an hour's id, so it
 *    cannot collide with a live run; `interval` holds the range label `<from>..<to>`) and upsert the
 *    sites into the site dimension.
 * 3. Fetch each request through the provider's request queue (bounded concurrency, rate; the queue's
 *    limiter takes {@link historyWeight}) with the same timeouts, retries and Retry-After handling as
 *    ingestion.
 * 4. Land every response raw — errors included — before parsing, append-only under
 *    `source=<S>/history/run=<token>/range=<from>..<to>/batch-NNNN-try-NN.json` ({@link historyObjectKey}).
 * 5. Parse with the provider's hourly contracts through the loader ingestion uses: one observation per
 *    site and hour of the request's range (kind `forecast` or `archive` from the landed URL), bronze
 *    upsert; contract failures → quarantine naming the field; HTTP failures → the request's sites
 *    fail with the reason. One failed request never stops the others.
 * 6. Report progress after every request, then close the run with counts, latencies and per-site
 *    outcomes (a site's worst request speaks for it).
 */
import { addHours, type Interval, intervalOf, intervalStart, rangeLabel } from "../domain/interval.ts";
import type { ProviderSource } from "../domain/observation.ts";
import type { Site } from "../domain/sites.ts";
import type { HistoryEndpoint, RawEnvelope, SiteOutcome } from "../ports.ts";
import { createRequestQueue, fetchBatch } from "../providers/http.ts";
import { ledgerSeededLimiter, openMeteoWeight } from "../providers/limits.ts";
import {
  attemptLandings,
  DEFAULT_CLOCK_TOLERANCE_MINUTES,
  EnvelopeLoader,
  type IngestDeps,
  type IngestResult,
  newRunToken,
  openRunRecord,
  outcomeId,
  summarize,
} from "./ingest.ts";

/**
 * Calendar days per request: Open-Meteo bills max(days / 14, 1), so longer windows save no weight,
 * and 14 days × 50 sites stays near 1.2 MB, well under HTTP_MAX_BODY_BYTES.
 */
export const HISTORY_CHUNK_DAYS = 14;
/** Rows gathered before a history run writes them to bronze. */
export const HISTORY_FLUSH_ROWS = 10_000;

/** The default share of failed or quarantined sites above which a history run fails (SITE_FAILURE_THRESHOLD's default). */
export const DEFAULT_HISTORY_FAILURE_THRESHOLD = 0.1;

/**
 * The same ports as ingestion. `clock` is "now" for the forecast/archive boundary and the ledger;
 * `runToken` names the run (its id and raw objects).
 */
export type HistoryDeps = IngestDeps;

export interface HistoryArgs {
  sites: Site[];
  /** First and last hour wanted, both included (UTC). */
  from: Interval;
  to: Interval;
  /** The run fails when (failed + quarantined) / total exceeds this ratio; default 0.1. */
  failureThreshold?: number;
  /** Calls after each request is loaded (or failed). */
  onProgress?: (progress: HistoryProgress) => void;
}

export interface HistoryProgress {
  requestsDone: number;
  requestsTotal: number;
  /** The request just finished. */
  request: {
    from: Interval;
    to: Interval;
    endpoint: HistoryEndpoint;
    sites: number;
    status: "ok" | "failed";
  };
}

/** One planned request: `sites` over the hours [from, to] from `endpoint`. */
export interface HistoryRequest {
  /** 1-based, in plan order: names the raw objects. */
  batch: number;
  endpoint: HistoryEndpoint;
  from: Interval;
  to: Interval;
  /** Calendar days (UTC) the hours fall on: the weight's days. */
  days: number;
  sites: Site[];
}

/** An ingestion result for a range instead of an hour, plus what the requests cost. */
export interface HistoryResult extends Omit<IngestResult, "interval"> {
  /** The hours fetched, both included (`to` is clamped to the current hour). */
  from: Interval;
  to: Interval;
  /** What the ledger's `interval` column holds for this run: `<from>..<to>`. */
  rangeLabel: string;
  /** HTTP requests sent, retries included (each is counted by the provider). */
  requests: number;
  /** Their weight as the provider bills it ({@link historyWeight}), retries included. */
  weightedCalls: number;
  /** One per site, by site id; a failed or quarantined site's reason starts with the range it concerns. */
  sites: SiteOutcome[];
}

/** The provider cannot serve past hours (OpenWeatherMap's free tier): use Open-Meteo or the simulator. */
export class HistoryUnsupportedError extends Error {
  override name = "HistoryUnsupportedError";
  constructor(readonly source: ProviderSource) {
    super(`${source} serves current conditions only: fetch history with --source open-meteo (or simulator)`);
  }
}

/** Weighted calls one history request costs as Open-Meteo bills it ({@link openMeteoWeight}). */
export function historyWeight(variables: number, days: number, locations: number): number {
  return openMeteoWeight({ variables, days, locations });
}

/** A history run's ledger id: `<source>:history:<token>` (live ids are `<source>:<hour>`). */
export function historyRunId(source: ProviderSource, runToken: string): string {
  return `${source}:history:${runToken}`;
}

/** Everything a source's history objects are filed under. */
export function historyPrefix(source: ProviderSource): string {
  return `source=${source}/history/`;
}

/**
 * `source=open-meteo/history/run=20261123T215012345Z-1a2b3c/range=2026-11-01T00..2026-11-14T23/batch-0001-try-01.json`
 *
 * The run token comes first, so a source's history keys sort in the order their runs fetched them:
 * the order a replay applies them in.
 */
export function historyObjectKey(
  source: ProviderSource,
  runToken: string,
  range: { from: Interval; to: Interval },
  batch: number,
  attempt: number,
): string {
  const b = String(batch).padStart(4, "0");
  const t = String(attempt).padStart(2, "0");
  return `${historyPrefix(source)}run=${runToken}/range=${rangeLabel(range.from, range.to)}/batch-${b}-try-${t}.json`;
}

/** A key's run token and range, or undefined for a key that is not a history object's. */
export function parseHistoryObjectKey(
  key: string,
): { runToken: string; from: Interval; to: Interval } | undefined {
  const m =
    /\/history\/run=([^/]+)\/range=(\d{4}-\d{2}-\d{2}T\d{2})\.\.(\d{4}-\d{2}-\d{2}T\d{2})\/batch-\d+-try-\d+\.json$/.exec(
      key,
    );
  if (!m?.[1] || !m[2] || !m[3]) return undefined;
  return { runToken: m[1], from: m[2] as Interval, to: m[3] as Interval };
}

/** The first hour the `forecast` endpoint serves at `now`: 00:00 UTC `recentDays` days before today. */
export function forecastBoundary(now: Date, recentDays: number): Interval {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return intervalOf(new Date(midnight - recentDays * 86_400_000));
}

/**
 * The requests for `sites` over [from, to] at `now`; see the module header, step 1. Windows start at
 * `from` (or the boundary) and end on a UTC day's last hour, so each spans at most `chunkDays`
 * calendar days. `to` is clamped to the current hour; an empty range plans nothing.
 */
export function planHistory(args: {
  sites: Site[];
  from: Interval;
  to: Interval;
  now: Date;
  batchSize: number;
  recentDays: number;
  chunkDays?: number;
}): HistoryRequest[] {
  const chunkDays = args.chunkDays ?? HISTORY_CHUNK_DAYS;
  if (!(chunkDays >= 1 && Number.isInteger(chunkDays)))
    throw new RangeError(`chunkDays must be a positive integer, got ${chunkDays}`);
  if (!(args.batchSize >= 1)) throw new RangeError(`batchSize must be positive, got ${args.batchSize}`);
  const current = intervalOf(args.now);
  const to = args.to > current ? current : args.to;
  if (args.sites.length === 0 || args.from > to) return [];
  const boundary = forecastBoundary(args.now, args.recentDays);
  const segments: { endpoint: HistoryEndpoint; from: Interval; to: Interval }[] = [];
  if (args.from < boundary) {
    const end = to < boundary ? to : addHours(boundary, -1);
    segments.push({ endpoint: "archive", from: args.from, to: end });
  }
  if (to >= boundary)
    segments.push({ endpoint: "forecast", from: args.from > boundary ? args.from : boundary, to });

  const batches: Site[][] = [];
  for (let i = 0; i < args.sites.length; i += args.batchSize)
    batches.push(args.sites.slice(i, i + args.batchSize));
  const out: HistoryRequest[] = [];
  for (const segment of segments) {
    for (let from = segment.from; from <= segment.to; ) {
      // The last hour of the window's last calendar day, or the segment's end.
      const lastDay = intervalOf(new Date(intervalStart(from).getTime() + (chunkDays - 1) * 86_400_000));
      const dayEnd = `${lastDay.slice(0, 10)}T23` as Interval;
      const end = dayEnd < segment.to ? dayEnd : segment.to;
      const days = calendarDays(from, end);
      for (const sites of batches) {
        out.push({ batch: out.length + 1, endpoint: segment.endpoint, from, to: end, days, sites });
      }
      from = addHours(end, 1);
    }
  }
  return out;
}

/** UTC calendar days the hours [from, to] fall on. */
function calendarDays(from: Interval, to: Interval): number {
  const day = (i: Interval) => Date.parse(`${i.slice(0, 10)}T00:00:00Z`);
  return Math.round((day(to) - day(from)) / 86_400_000) + 1;
}

/**
 * Fetches the sites' history for [from, to] into raw and bronze; see the module header for the steps.
 * @throws {HistoryUnsupportedError} when the provider has no history.
 */
export async function fetchHistory(deps: HistoryDeps, args: HistoryArgs): Promise<HistoryResult> {
  const { provider, rawStore, bronze, log } = deps;
  const history = provider.history;
  if (!history) throw new HistoryUnsupportedError(provider.source);
  const clock = deps.clock ?? (() => new Date());
  const startedAt = clock();
  const requests = planHistory({
    sites: args.sites,
    from: args.from,
    to: args.to,
    now: startedAt,
    batchSize: provider.batchSize,
    recentDays: history.recentDays,
  });
  // Built up front: a provider that cannot build them (the simulator without SIMULATOR_URL) throws
  // its configuration error before the run starts.
  const urls = requests.map((r) =>
    history.request(r.sites, { from: r.from, to: r.to, endpoint: r.endpoint }),
  );
  const current = intervalOf(startedAt);
  const to = args.to > current ? current : args.to;
  const label = rangeLabel(args.from, to);
  const runToken = deps.runToken ?? newRunToken(startedAt);
  const runId = historyRunId(provider.source, runToken);
  const run = openRunRecord({
    runId,
    source: provider.source,
    interval: label,
    startedAt,
    sitesTotal: args.sites.length,
  });
  await bronze.startRun(run);
  await bronze.upsertSites(args.sites);
  log.info("history started", { runId, range: label, sites: args.sites.length, requests: requests.length });

  // The clock tolerance is unused: history envelopes are checked against their own range.
  // A request's rows are one write (a 14-day window of 50 sites is 16,800 rows); requests cover
  // disjoint site-hours, so their writes may run side by side.
  const loader = new EnvelopeLoader(provider, bronze, log, runId, DEFAULT_CLOCK_TOLERANCE_MINUTES, {
    flushRows: HISTORY_FLUSH_ROWS,
    writers: 2,
  });
  const latencies: number[] = [];
  let sent = 0;
  let weightedCalls = 0;
  let done = 0;
  // One limiter for the provider: shared with the caller's other work when given, else seeded from the
  // ledger's last day, so history and hourly ingestion count against the same quota.
  const limiter = deps.limiter ?? (await ledgerSeededLimiter(provider.source, provider.limits, bronze));
  // A request heavier than a whole window could never be sent: say so before anything is fetched.
  for (const r of requests)
    limiter.assertFits(historyWeight(history.variables.length, r.days, r.sites.length));
  const queue = createRequestQueue(provider, { limiter });
  await Promise.all(
    requests.map(async (request, i) => {
      const range = { from: request.from, to: request.to };
      const weight = historyWeight(history.variables.length, request.days, request.sites.length);
      let key = historyObjectKey(provider.source, runToken, range, request.batch, 1);
      const landings = attemptLandings(rawStore);
      let envelope: RawEnvelope | undefined;
      try {
        // The one place a history request enters the queue: the weighted limiter takes `weight` here.
        envelope = await queue.add(
          () =>
            fetchBatch({
              provider,
              sites: request.sites,
              interval: request.from,
              range,
              request: urls[i],
              batch: request.batch,
              policy: deps.policy,
              fetchImpl: deps.fetchImpl,
              beforeRetry: async () => {
                await landings.landed();
                await queue.acquire(weight);
              },
              onResponse: async (attempt) => {
                sent += 1;
                weightedCalls += weight;
                latencies.push(attempt.latencyMs);
                key = historyObjectKey(provider.source, runToken, range, request.batch, attempt.attempt);
                landings.land(key, JSON.stringify(attempt));
              },
            }),
          { weight },
        );
        await landings.landed();
      } catch (e) {
        // Landing failed (or a bug): this request's sites fail, the others go on.
        envelope = undefined;
        const error = (await landings.failure()) ?? (e as Error);
        const reason = `could not fetch or land request ${request.batch}: ${error.message}`;
        log.error("history request failed before parsing", { batch: request.batch, error: error.message });
        loader.fail(request.sites, reason, key, range);
      }
      if (envelope) await loader.load(envelope, key);
      done += 1;
      const failed =
        !envelope ||
        request.sites.some((s) => loader.outcomes.get(outcomeId(s.id, range))?.status === "failed");
      args.onProgress?.({
        requestsDone: done,
        requestsTotal: requests.length,
        request: {
          from: request.from,
          to: request.to,
          endpoint: request.endpoint,
          sites: request.sites.length,
          status: failed ? "failed" : "ok",
        },
      });
    }),
  );
  await loader.flush();

  const result = historyResult(loader, {
    runId,
    source: provider.source,
    from: args.from,
    to,
    sitesTotal: args.sites.length,
    latencies,
    failureThreshold: args.failureThreshold ?? DEFAULT_HISTORY_FAILURE_THRESHOLD,
    requests: sent,
    weightedCalls,
  });
  await bronze.finishRun(
    { ...run, ...result, interval: label, startedAt, finishedAt: clock() },
    result.sites,
  );
  log.info("history finished", {
    runId,
    status: result.status,
    sitesOk: result.sitesOk,
    sitesFailed: result.sitesFailed,
    sitesQuarantined: result.sitesQuarantined,
    observationsLoaded: result.observationsLoaded,
    requests: result.requests,
    weightedCalls: result.weightedCalls,
  });
  return result;
}

/** A history run's result from its loader (fetch and replay alike). */
export function historyResult(
  loader: EnvelopeLoader,
  meta: {
    runId: string;
    source: ProviderSource;
    from: Interval;
    to: Interval;
    sitesTotal: number;
    latencies: number[];
    failureThreshold: number;
    requests: number;
    weightedCalls: number;
  },
): HistoryResult {
  const { interval: _hour, ...counts } = summarize(loader, { ...meta, interval: meta.from });
  return {
    ...counts,
    from: meta.from,
    to: meta.to,
    rangeLabel: rangeLabel(meta.from, meta.to),
    requests: meta.requests,
    weightedCalls: meta.weightedCalls,
  };
}
