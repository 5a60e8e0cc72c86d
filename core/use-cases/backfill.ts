/**
 * Backfill a range of intervals, coverage-driven and oldest first: every site-hour missing from bronze
 * is refilled where that is possible, and the report says exactly what is still missing.
 *
 * Steps:
 * 1. Read coverage for the whole range: which sites lack an observation from this source, per hour.
 *    The catch-up policy decides which of those hours may be fetched: `all`, only the `latest`, or
 *    none (`skip`: replay raw only).
 * 2. Per hour with missing sites (the current hour first whenever it falls due, so a long backfill
 *    never starves it): replay its raw objects if there are any (no API calls), re-read coverage; fetch
 *    the sites still missing if the source can serve that hour and the policy allows it; re-read.
 * 3. Run the workflow for every hour that gained rows (silver → gold → checks).
 * 4. Report what each hour had missing before and after, and why the rest could not be filled. The
 *    backfill fails (exit 1) if any site-hour is still missing or a workflow failed.
 *
 * With a source that serves history (`deps.history`: Open-Meteo's forecast and archive APIs, the
 * simulator) and catch-up `all`, the hours history can serve (up to `history.latest`, the hour before
 * the current one) go another way, built for a year as much as for an hour:
 * 1. Replay raw objects of every gap hour that has some (no API calls, no per-hour workflow), then
 *    the history raw objects of earlier fetches overlapping the remaining gaps (`history.replay`).
 * 2. Re-read coverage; the site-hours still missing go to heal's {@link fillGaps}: the fewest weighted
 *    requests, `history.admit` (the up-front quota estimate; it may stop the backfill before any call),
 *    one history fetch per request, then ONE bulk transform (trigger `backfill`) over every hour that
 *    was replayed or fetched — not one workflow per hour.
 * 3. Newer hours (the current one) keep the per-hour path above; then coverage is re-read and the
 *    per-hour report says what is still missing and why.
 */
import { type Interval, intervalOf, intervalRange } from "../domain/interval.ts";
import type { Site } from "../domain/sites.ts";
import type { Log } from "../observability/logger.ts";
import type { ScheduleEstimate } from "../providers/limits.ts";
import { type FillGapsResult, fillGaps, type HealDeps, type HealRequest } from "./heal.ts";
import type { IngestResult } from "./ingest.ts";

export const CATCH_UP = ["all", "latest", "skip"] as const;
export type CatchUp = (typeof CATCH_UP)[number];

export interface BackfillDeps {
  log: Log;
  /** Site ids without an observation from the backfill's source, per hour of [from, to] (complete hours omitted). */
  missing(from: Interval, to: Interval): Promise<Map<Interval, string[]>>;
  hasRaw(interval: Interval): Promise<boolean>;
  replay(interval: Interval): Promise<IngestResult[]>;
  /** Fetches `siteIds` (only the missing ones) for the interval from the source. */
  ingest(interval: Interval, siteIds: string[]): Promise<IngestResult>;
  /** True when the source can answer for past hours (the simulator); live APIs serve "now" only. */
  supportsHistory: boolean;
  runWorkflow(interval: Interval): Promise<{ status: string }>;
  /** Set when the source serves hourly history: past hours are filled through it in bulk (module header). */
  history?: BackfillHistory;
  clock?: () => Date;
}

/** How a backfill reaches a source's history; see the module header. */
export interface BackfillHistory extends Pick<HealDeps, "fetchHistory" | "transformRange" | "weight"> {
  /** The newest hour history serves: the hour before the current one (that one is live ingestion's). */
  latest: Interval;
  /** Every configured site (fetches take the ones with gaps). */
  sites: readonly Site[];
  /** Replays the history raw objects overlapping [from, to] (no API calls); returns observations loaded. */
  replay?: (from: Interval, to: Interval) => Promise<number>;
  /** Sees the plan before any request: the quota estimate. A refusal stops the fetch (nothing is called). */
  admit?: (plan: HealRequest[]) => Promise<{ go: true } | { go: false; reason: string }>;
}

export interface BackfillStep {
  interval: Interval;
  /** Sites missing when the step began. */
  missingBefore: number;
  /** Observations loaded from raw objects and from the API. */
  replayed: number;
  fetched: number;
  /** Sites still missing after the step, and why they could not be filled. */
  stillMissing: string[];
  reason?: string;
  workflow: string | null;
  /** True when this step served the current hour ahead of the backfill queue. */
  currentHour?: boolean;
}

export interface BackfillReport {
  from: Interval;
  to: Interval;
  catchUp: CatchUp;
  hoursChecked: number;
  siteHoursMissingBefore: number;
  siteHoursFilled: number;
  siteHoursStillMissing: number;
  /** Only the hours that had something missing. */
  steps: BackfillStep[];
  /** The history fill (requests, the one transform, or why it stopped); absent without history. */
  history?: Omit<FillGapsResult, "plan"> & { weight: number };
  failed: boolean;
}

/** Backfills [from, to]; see the module header for the steps. */
export async function backfill(
  deps: BackfillDeps,
  args: {
    from: Interval;
    to: Interval;
    catchUp: CatchUp;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<BackfillReport> {
  const clock = deps.clock ?? (() => new Date());
  const intervals = intervalRange(args.from, args.to);
  const plan = await deps.missing(args.from, args.to);
  const gapHours = intervals.filter((i) => plan.has(i));
  const fetchable = new Set<Interval>(
    args.catchUp === "all" ? gapHours : args.catchUp === "latest" ? gapHours.slice(-1) : [],
  );
  const done = new Set<Interval>();
  const steps: BackfillStep[] = [];

  const missingAt = async (i: Interval) => (await deps.missing(i, i)).get(i) ?? [];
  if (deps.history && args.catchUp === "all") {
    return backfillThroughHistory(deps, deps.history, { ...args, intervals, plan });
  }

  const process = async (interval: Interval, currentHour: boolean): Promise<void> => {
    done.add(interval);
    let missing = currentHour ? await missingAt(interval) : (plan.get(interval) ?? []);
    if (missing.length === 0) return;
    const step: BackfillStep = {
      interval,
      missingBefore: missing.length,
      replayed: 0,
      fetched: 0,
      stillMissing: missing,
      workflow: null,
    };
    if (await deps.hasRaw(interval)) {
      step.replayed = sum(await deps.replay(interval));
      missing = await missingAt(interval);
    }
    let fetchFailure: string | undefined;
    const mayFetch = currentHour || (fetchable.has(interval) && deps.supportsHistory);
    if (missing.length > 0 && mayFetch) {
      const result = await deps.ingest(interval, missing);
      step.fetched = result.observationsLoaded;
      fetchFailure = result.sites.find((s) => s.status !== "ok")?.reason ?? undefined;
      missing = await missingAt(interval);
    }
    step.stillMissing = missing;
    if (missing.length > 0) {
      step.reason =
        !fetchable.has(interval) && !currentHour
          ? `catch-up policy "${args.catchUp}" does not fetch this hour, and its raw objects do not cover it`
          : !mayFetch
            ? "the source serves current conditions only, and raw objects do not cover this hour"
            : `fetch did not fill it: ${fetchFailure ?? "no observation returned"}`;
    }
    if (step.replayed + step.fetched > 0) step.workflow = (await deps.runWorkflow(interval)).status;
    if (currentHour) step.currentHour = true;
    steps.push(step);
    deps.log.info("backfill step", { ...step, stillMissing: step.stillMissing.length });
  };

  for (const [n, interval] of intervals.entries()) {
    const current = intervalOf(clock());
    if (!done.has(current) && current > interval) await process(current, true);
    if (!done.has(interval)) await process(interval, interval === current);
    args.onProgress?.(n + 1, intervals.length);
  }
  const missingBefore = steps.reduce((n, s) => n + s.missingBefore, 0);
  const stillMissing = steps.reduce((n, s) => n + s.stillMissing.length, 0);
  return {
    from: args.from,
    to: args.to,
    catchUp: args.catchUp,
    hoursChecked: intervals.length,
    siteHoursMissingBefore: missingBefore,
    siteHoursFilled: missingBefore - stillMissing,
    siteHoursStillMissing: stillMissing,
    steps,
    failed: stillMissing > 0 || steps.some((s) => s.workflow === "failed"),
  };
}

/** The history path of {@link backfill} (module header, second list). */
async function backfillThroughHistory(
  deps: BackfillDeps,
  history: BackfillHistory,
  args: {
    from: Interval;
    to: Interval;
    catchUp: CatchUp;
    intervals: Interval[];
    plan: Map<Interval, string[]>;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<BackfillReport> {
  const past = args.intervals.filter((i) => i <= history.latest);
  const recent = args.intervals.filter((i) => i > history.latest);
  const steps = new Map<Interval, BackfillStep>();
  let replayedSpan: { from: Interval; to: Interval } | undefined;
  // As the per-hour path: the current hour is served whenever it falls due, so a long (paced) fetch
  // never starves it — before the history fill, after it, and in its turn if the range holds it.
  const clock = deps.clock ?? (() => new Date());
  const served = new Set<Interval>();
  const serveCurrent = async () => {
    const current = intervalOf(clock());
    if (served.has(current)) return;
    served.add(current);
    const missing = await lacking(deps, current);
    if (missing.length > 0) steps.set(current, await recentHour(deps, current, missing, true));
  };
  await serveCurrent();
  for (const [n, interval] of past.entries()) {
    const missing = args.plan.get(interval);
    if (missing) {
      const step: BackfillStep = {
        interval,
        missingBefore: missing.length,
        replayed: 0,
        fetched: 0,
        stillMissing: missing,
        workflow: null,
      };
      steps.set(interval, step);
      if (await deps.hasRaw(interval)) {
        step.replayed = sum(await deps.replay(interval));
        if (step.replayed > 0) replayedSpan = { from: replayedSpan?.from ?? interval, to: interval };
      }
    }
    args.onProgress?.(n + 1, args.intervals.length);
  }

  // What live raw objects did not restore may sit in earlier history fetches' raw objects.
  const lastPast = past.at(-1);
  let afterReplay = replayedSpan && lastPast ? await deps.missing(args.from, lastPast) : new Map(args.plan);
  const gapHours = past.filter((i) => afterReplay.has(i));
  const firstGap = gapHours[0];
  const lastGap = gapHours.at(-1);
  if (history.replay && firstGap && lastGap && (await history.replay(firstGap, lastGap)) > 0) {
    const before = afterReplay;
    afterReplay = await deps.missing(firstGap, lastGap);
    for (const interval of gapHours) {
      const restored = (before.get(interval)?.length ?? 0) - (afterReplay.get(interval)?.length ?? 0);
      const step = steps.get(interval);
      if (!step || restored <= 0) continue;
      step.replayed += restored;
      replayedSpan = {
        from: replayedSpan && replayedSpan.from < interval ? replayedSpan.from : interval,
        to: replayedSpan && replayedSpan.to > interval ? replayedSpan.to : interval,
      };
    }
  }
  // The rest, per site: the gaps history fills.
  const gaps = new Map<string, Interval[]>();
  for (const interval of past)
    for (const siteId of afterReplay.get(interval) ?? []) {
      const hours = gaps.get(siteId) ?? [];
      hours.push(interval);
      gaps.set(siteId, hours);
    }
  const fill = await fillGaps(
    {
      log: deps.log,
      fetchHistory: history.fetchHistory,
      transformRange: history.transformRange,
      weight: history.weight,
    },
    { gaps, sites: history.sites, label: "backfill", admit: history.admit, alsoTransform: replayedSpan },
  );

  // Newer hours: the per-hour path (replay, the live fetch of the current hour, the workflow).
  await serveCurrent();
  for (const [n, interval] of recent.entries()) {
    const missing = served.has(interval) ? [] : (args.plan.get(interval) ?? []);
    if (missing.length > 0) steps.set(interval, await recentHour(deps, interval, missing, false));
    args.onProgress?.(past.length + n + 1, args.intervals.length);
  }

  const after = lastPast ? await deps.missing(args.from, lastPast) : new Map<Interval, string[]>();
  const failedRequest = (siteId: string, hour: Interval) =>
    fill.requests.find(
      (r) => r.status === "failed" && r.from <= hour && hour <= r.to && r.siteIds.includes(siteId),
    );
  const transformed = (i: Interval) => fill.transform && fill.transform.from <= i && i <= fill.transform.to;
  for (const interval of past) {
    const step = steps.get(interval);
    if (!step) continue;
    const beforeFetch = afterReplay.get(interval) ?? [];
    const still = after.get(interval) ?? [];
    step.fetched = beforeFetch.length - beforeFetch.filter((id) => still.includes(id)).length;
    step.stillMissing = still;
    if (step.replayed + step.fetched > 0 && transformed(interval))
      step.workflow = fill.transform?.status ?? null;
    const first = still[0];
    if (first !== undefined) {
      const failed = failedRequest(first, interval);
      step.reason = fill.stopped
        ? `history was not fetched: ${fill.stopped}`
        : failed
          ? `history fetch did not fill it: ${failed.reason ?? "the request failed"}`
          : "history returned no observation for it (nor did raw objects)";
    }
  }

  const ordered = [...steps.values()].sort((a, b) => (a.interval < b.interval ? -1 : 1));
  const missingBefore = ordered.reduce((n, s) => n + s.missingBefore, 0);
  const stillMissing = ordered.reduce((n, s) => n + s.stillMissing.length, 0);
  const { plan, ...rest } = fill;
  return {
    from: args.from,
    to: args.to,
    catchUp: args.catchUp,
    hoursChecked: args.intervals.length,
    siteHoursMissingBefore: missingBefore,
    siteHoursFilled: missingBefore - stillMissing,
    siteHoursStillMissing: stillMissing,
    steps: ordered,
    history: { ...rest, weight: plan.reduce((n, r) => n + r.weight, 0) },
    failed:
      stillMissing > 0 ||
      ordered.some((s) => s.workflow === "failed") ||
      fill.transform?.status === "failed" ||
      fill.requests.some((r) => r.status === "failed"),
  };
}

const lacking = async (deps: BackfillDeps, i: Interval) => (await deps.missing(i, i)).get(i) ?? [];

/** One hour newer than history serves: replay, then the live fetch if it is the current hour, then its workflow. */
async function recentHour(
  deps: BackfillDeps,
  interval: Interval,
  missingBefore: string[],
  currentHour: boolean,
): Promise<BackfillStep> {
  let missing = missingBefore;
  const step: BackfillStep = {
    interval,
    missingBefore: missing.length,
    replayed: 0,
    fetched: 0,
    stillMissing: missing,
    workflow: null,
  };
  if (await deps.hasRaw(interval)) {
    step.replayed = sum(await deps.replay(interval));
    missing = await lacking(deps, interval);
  }
  let fetchFailure: string | undefined;
  if (missing.length > 0 && currentHour) {
    const result = await deps.ingest(interval, missing);
    step.fetched = result.observationsLoaded;
    fetchFailure = result.sites.find((s) => s.status !== "ok")?.reason ?? undefined;
    missing = await lacking(deps, interval);
  }
  step.stillMissing = missing;
  if (missing.length > 0)
    step.reason = currentHour
      ? `fetch did not fill it: ${fetchFailure ?? "no observation returned"}`
      : "history does not serve this hour yet, and its raw objects do not cover it";
  if (step.replayed + step.fetched > 0) step.workflow = (await deps.runWorkflow(interval)).status;
  if (currentHour) step.currentHour = true;
  deps.log.info("backfill step", { ...step, stillMissing: step.stillMissing.length });
  return step;
}

const sum = (results: IngestResult[]) => results.reduce((n, r) => n + r.observationsLoaded, 0);

/** A backfill's cost before it starts ({@link estimateSchedule} plus the day's usage it started from). */
export interface BackfillEstimate extends ScheduleEstimate {
  /** Weighted calls of the last 24 h (from the run ledger). */
  usedToday: number;
  /** The tier's daily quota (Infinity for the simulator). */
  perDay: number;
  requests: number;
}

/**
 * The up-front verdict: a plan that does not fit today's remaining quota stops before any call, unless
 * the user asked to pace (wait for the quota: the limiter then spreads the calls over the windows).
 */
export function admitEstimate(
  estimate: BackfillEstimate,
  pace: boolean,
): { go: true } | { go: false; reason: string } {
  if (estimate.fitsToday || pace) return { go: true };
  return {
    go: false,
    reason:
      `it needs ${fmt(estimate.weightedCalls)} weighted calls and only ${fmt(estimate.remainingToday)} of today's ` +
      `${fmt(estimate.perDay)} are left (${fmt(estimate.usedToday)} used in the last 24 h); rerun with --pace to ` +
      `wait for the quota (about ${duration(estimate.estimatedDurationMs)}), or backfill a shorter range`,
  };
}

/** "history: 54 requests, 27.0 weighted calls; 12.5 of 10,000 used today; fits today; about 0 s". */
export function describeEstimate(e: BackfillEstimate): string {
  const quota = Number.isFinite(e.perDay) ? `${fmt(e.usedToday)} of ${fmt(e.perDay)} used today` : "no quota";
  return (
    `history: ${e.requests} request${e.requests === 1 ? "" : "s"}, ${fmt(e.weightedCalls)} weighted calls; ${quota}; ` +
    `${e.fitsToday ? "fits today" : "does NOT fit today"}; at least ${duration(e.estimatedDurationMs)}` +
    (e.windowThatBinds ? ` (the ${e.windowThatBinds} limit binds)` : "")
  );
}

const fmt = (n: number) =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: 1 }) : "unlimited";

function duration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} days`;
}
