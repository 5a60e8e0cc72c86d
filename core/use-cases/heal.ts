/**
 * Gap healing: refill the site-hours missing from bronze in the last N days from the provider's
 * history, then rebuild silver and gold over what changed. Run daily (EventBridge rule → the heal
 * Lambda; a CronJob on Kind; `weather heal` embedded), it turns an hour lost to an outage into an
 * hour filled a day later, and says what it could not fill (the GapsRemaining metric and alarm).
 *
 * Steps:
 * 1. Window: the last `days` × 24 complete UTC hours, ending with the hour before the current one
 *    (the current hour belongs to the hourly ingestion).
 * 2. Coverage (core/use-cases/coverage.ts) over the window: the missing site-hours.
 * Steps 3–5 are {@link fillGaps}, shared with `weather backfill`.
 * 3. Plan the fewest weighted requests that cover them ({@link planHealRequests}): per site, its
 *    missing hours become ranges; sites whose ranges can share one request at no extra weight are
 *    grouped (Open-Meteo bills max(days/14, 1) × locations, so within 14 days one range for many
 *    sites costs what separate ones do). A group may re-fetch hours that are present: bronze upserts
 *    are idempotent, and silver's precedence keeps a live (`current`) row over a history row.
 * 4. Fetch each group's history (`deps.fetchHistory`: raw first, contracts, bronze, like ingestion).
 *    A failed group is recorded with its reason and the others go on.
 * 5. One bulk transform (`deps.transformRange`, trigger "heal") over the range the fetches loaded.
 * 6. Re-read coverage and report: missing before, filled, remaining (per site), the runs. The heal
 *    fails when a gap remains, a fetch failed or the transform failed.
 */
import type { Interval } from "../domain/interval.ts";
import { addHours, intervalOf, intervalStart } from "../domain/interval.ts";
import type { Site } from "../domain/sites.ts";
import type { Log } from "../observability/logger.ts";
import type { CoverageReport } from "./coverage.ts";

/** The heal window's bounds, in days: Open-Meteo's forecast API serves the last 92 days of past hours. */
export const HEAL_DAYS = { min: 1, max: 92, default: 7 } as const;

/** What heal needs from one history fetch (a subset of core/use-cases/history.ts' HistoryResult). */
export interface HealFetchResult {
  runId: string;
  status: "succeeded" | "failed";
  observationsLoaded: number;
  weightedCalls?: number;
  sites?: ReadonlyArray<{ siteId: string; status: string; reason: string | null }>;
}

/** What heal needs from the bulk transform (core/use-cases/transform.ts' transformRange). */
export interface HealTransformResult {
  status: "succeeded" | "failed";
  runId?: string | number;
  error?: string;
}

export interface HealDeps {
  log: Log;
  /** Coverage of the configured source over [from, to] for the given sites (readCoverage). */
  coverage(from: Interval, to: Interval, siteIds: string[]): Promise<CoverageReport>;
  /** Fetches `sites`' history for [from, to] into raw and bronze (fetchHistory). */
  fetchHistory(sites: Site[], from: Interval, to: Interval): Promise<HealFetchResult>;
  /** One bulk silver → checks → gold → checks run over [from, to] (transformRange, trigger "heal"). */
  transformRange(from: Interval, to: Interval): Promise<HealTransformResult>;
  /**
   * Weighted calls one request costs for `days` calendar days and `locations` sites; Open-Meteo's
   * max(days/14, 1) × locations by default (the variables factor is the same for every request).
   */
  weight?: (days: number, locations: number) => number;
  clock?: () => Date;
}

/** One planned request: these sites over [from, to] (UTC hours, both included). */
export interface HealRequest {
  from: Interval;
  to: Interval;
  siteIds: string[];
  /** Estimated weighted calls ({@link HealDeps.weight}). */
  weight: number;
}

export interface HealRequestOutcome extends HealRequest {
  status: "succeeded" | "failed";
  runId: string | null;
  observationsLoaded: number;
  reason?: string;
}

export interface HealSiteDetail {
  siteId: string;
  missingBefore: number;
  filled: number;
  /** Hours still missing after the heal. */
  remaining: Interval[];
}

export interface HealReport {
  window: { from: Interval; to: Interval; days: number };
  sitesChecked: number;
  siteHoursMissingBefore: number;
  siteHoursFilled: number;
  gapsRemaining: number;
  /** The requests made, in order, with their outcome. */
  requests: HealRequestOutcome[];
  /** Only the sites that had a gap. */
  perSite: HealSiteDetail[];
  /** History runs (one per request) and the transform run, in the order they ran. */
  runs: Array<{ kind: "history" | "transform"; runId: string | null; status: string }>;
  transform: { from: Interval; to: Interval; status: string; runId: string | null; error?: string } | null;
  failed: boolean;
}

export class HealInputError extends Error {
  override name = "HealInputError";
}

/** Open-Meteo's request weight without its variables factor: max(days/14, 1) × locations. */
export const openMeteoDaysWeight = (days: number, locations: number): number =>
  Math.max(days / 14, 1) * locations;

/** The last `days` × 24 complete hours before `now`'s hour. */
export function healWindow(days: number, now: Date): { from: Interval; to: Interval } {
  const to = addHours(intervalOf(now), -1);
  return { from: addHours(to, -(days * 24 - 1)), to };
}

/**
 * Heals the last `days` days for `sites`; see the module header for the steps.
 * @throws HealInputError when `days` is not an integer in {@link HEAL_DAYS}.
 */
export async function heal(
  deps: HealDeps,
  args: { days: number; sites: readonly Site[]; clock?: () => Date },
): Promise<HealReport> {
  if (!Number.isInteger(args.days) || args.days < HEAL_DAYS.min || args.days > HEAL_DAYS.max)
    throw new HealInputError(
      `days must be a whole number from ${HEAL_DAYS.min} to ${HEAL_DAYS.max}, got ${args.days}; ` +
        "use weather backfill for longer ranges.",
    );
  const clock = args.clock ?? deps.clock ?? (() => new Date());
  const window = healWindow(args.days, clock());
  const siteIds = args.sites.map((s) => s.id);

  const before = await deps.coverage(window.from, window.to, siteIds);
  const gaps = new Map(before.sites.filter((s) => s.missing.length > 0).map((s) => [s.siteId, s.missing]));
  const { plan, requests, runs, transform } = await fillGaps(deps, {
    gaps,
    sites: args.sites,
    label: "heal",
  });

  const after = plan.length > 0 ? await deps.coverage(window.from, window.to, siteIds) : before;
  const remainingById = new Map(after.sites.map((s) => [s.siteId, s.missing]));
  const perSite = [...gaps].map(([siteId, missing]) => {
    const remaining = remainingById.get(siteId) ?? [];
    const still = new Set(remaining);
    return {
      siteId,
      missingBefore: missing.length,
      filled: missing.filter((i) => !still.has(i)).length,
      remaining,
    };
  });
  const missingBefore = sumMissing(before);
  const gapsRemaining = sumMissing(after);
  const report: HealReport = {
    window: { ...window, days: args.days },
    sitesChecked: siteIds.length,
    siteHoursMissingBefore: missingBefore,
    siteHoursFilled: perSite.reduce((n, s) => n + s.filled, 0),
    gapsRemaining,
    requests,
    perSite,
    runs,
    transform,
    failed:
      gapsRemaining > 0 || requests.some((r) => r.status === "failed") || transform?.status === "failed",
  };
  deps.log.info("heal finished", {
    window: report.window,
    siteHoursMissingBefore: report.siteHoursMissingBefore,
    siteHoursFilled: report.siteHoursFilled,
    gapsRemaining: report.gapsRemaining,
    requests: requests.length,
    transform: transform?.status ?? "none",
    failed: report.failed,
  });
  return report;
}

/** What {@link fillGaps} did: the plan, each request's outcome, the runs and the one transform. */
export interface FillGapsResult {
  plan: HealRequest[];
  requests: HealRequestOutcome[];
  runs: HealReport["runs"];
  transform: HealReport["transform"];
  /** Set when `admit` refused the plan: nothing was fetched, and this says why. */
  stopped?: string;
}

/**
 * Heal's and backfill's shared middle: the fewest weighted requests covering `gaps` (site id →
 * missing hours; {@link planHealRequests}), each fetched through `deps.fetchHistory` (a failed one is
 * recorded and the others go on), then ONE `deps.transformRange` over every hour the fetches loaded
 * (widened to `alsoTransform`, e.g. hours a backfill replayed from raw objects).
 *
 * `admit` sees the plan before anything is fetched (backfill's quota estimate); when it refuses, no
 * request is made, `stopped` says why, and only `alsoTransform` is transformed.
 */
export async function fillGaps(
  deps: Pick<HealDeps, "log" | "fetchHistory" | "transformRange" | "weight">,
  args: {
    gaps: ReadonlyMap<string, readonly Interval[]>;
    sites: readonly Site[];
    /** Names the log entry: `heal plan`, `backfill plan`. */
    label: "heal" | "backfill";
    admit?: (plan: HealRequest[]) => Promise<{ go: true } | { go: false; reason: string }>;
    alsoTransform?: { from: Interval; to: Interval };
  },
): Promise<FillGapsResult> {
  const byId = new Map(args.sites.map((s) => [s.id, s]));
  const plan = planHealRequests(args.gaps, deps.weight ?? openMeteoDaysWeight);
  deps.log.info(`${args.label} plan`, {
    siteHoursMissing: [...args.gaps.values()].reduce((n, m) => n + m.length, 0),
    sitesWithGaps: args.gaps.size,
    requests: plan.length,
    weight: plan.reduce((n, r) => n + r.weight, 0),
  });
  const verdict = plan.length > 0 && args.admit ? await args.admit(plan) : { go: true as const };
  const stopped = verdict.go ? undefined : verdict.reason;

  const requests: HealRequestOutcome[] = [];
  const runs: HealReport["runs"] = [];
  for (const request of stopped ? [] : plan) {
    const outcome = await fetchGroup(deps, request, byId);
    requests.push(outcome);
    runs.push({ kind: "history", runId: outcome.runId, status: outcome.status });
  }

  const spans = [
    ...requests.filter((r) => r.observationsLoaded > 0),
    ...(args.alsoTransform ? [args.alsoTransform] : []),
  ];
  let transform: HealReport["transform"] = null;
  const first = spans[0];
  if (first) {
    const from = spans.reduce((m, r) => (r.from < m ? r.from : m), first.from);
    const to = spans.reduce((m, r) => (r.to > m ? r.to : m), first.to);
    transform = await deps.transformRange(from, to).then(
      (t) => ({
        from,
        to,
        status: t.status,
        runId: t.runId == null ? null : String(t.runId),
        error: t.error,
      }),
      (e: unknown) => ({ from, to, status: "failed", runId: null, error: String(e) }),
    );
    runs.push({ kind: "transform", runId: transform.runId, status: transform.status });
  }
  return { plan, requests, runs, transform, ...(stopped ? { stopped } : {}) };
}

async function fetchGroup(
  deps: Pick<HealDeps, "log" | "fetchHistory">,
  request: HealRequest,
  byId: ReadonlyMap<string, Site>,
): Promise<HealRequestOutcome> {
  const sites = request.siteIds.flatMap((id) => byId.get(id) ?? []);
  try {
    const r = await deps.fetchHistory(sites, request.from, request.to);
    const reason = r.sites?.find((s) => s.status !== "ok")?.reason ?? undefined;
    return {
      ...request,
      status: r.status,
      runId: r.runId,
      observationsLoaded: r.observationsLoaded,
      ...(reason ? { reason } : {}),
    };
  } catch (e) {
    // One failed range must not keep the others from healing; the report and the exit code say it.
    deps.log.error("heal fetch failed", { from: request.from, to: request.to, error: String(e) });
    return { ...request, status: "failed", runId: null, observationsLoaded: 0, reason: String(e) };
  }
}

const sumMissing = (r: CoverageReport) => r.sites.reduce((n, s) => n + s.missing.length, 0);

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Calendar (UTC) days a request for [from, to] spans: what the provider bills by. */
export function daysSpanned(from: Interval, to: Interval): number {
  const day = (i: Interval) => Math.floor(intervalStart(i).getTime() / DAY_MS);
  return day(to) - day(from) + 1;
}

/**
 * Weights are fractional (365/14 × 100 sites): "merged ≤ apart" must not fail on a rounding error,
 * which split a year × 100 sites into groups of 23 before this tolerance.
 */
const TOLERANCE = 1e-6;

/**
 * The fewest weighted requests covering every missing site-hour in `gaps` (site id → missing hours,
 * oldest first).
 *
 * 1. Per site, its missing hours become ranges: the next missing hour extends the current range
 *    while that costs no more than a request of its own (so two gaps weeks apart are two ranges,
 *    two gaps a day apart are one).
 * 2. Ranges, oldest first, merge into one request while the merged request weighs no more than the
 *    two apart (with Open-Meteo's weights: whenever the merged range still spans at most 14 days).
 *    A site in two merged ranges counts once.
 */
export function planHealRequests(
  gaps: ReadonlyMap<string, readonly Interval[]>,
  weight: (days: number, locations: number) => number = openMeteoDaysWeight,
): HealRequest[] {
  const cost = (from: Interval, to: Interval, locations: number) => weight(daysSpanned(from, to), locations);
  const ranges: Array<{ from: Interval; to: Interval; siteIds: Set<string> }> = [];
  for (const [siteId, missing] of gaps) {
    const sorted = [...missing].sort();
    let cur: { from: Interval; to: Interval } | undefined;
    for (const hour of sorted) {
      if (cur && cost(cur.from, hour, 1) <= cost(cur.from, cur.to, 1) + cost(hour, hour, 1) + TOLERANCE) {
        cur.to = hour;
        continue;
      }
      if (cur) ranges.push({ ...cur, siteIds: new Set([siteId]) });
      cur = { from: hour, to: hour };
    }
    if (cur) ranges.push({ ...cur, siteIds: new Set([siteId]) });
  }
  ranges.sort((a, b) =>
    a.from === b.from ? (a.to < b.to ? -1 : a.to > b.to ? 1 : 0) : a.from < b.from ? -1 : 1,
  );

  const merged: typeof ranges = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last) {
      const from = last.from < r.from ? last.from : r.from;
      const to = last.to > r.to ? last.to : r.to;
      const sites = new Set([...last.siteIds, ...r.siteIds]);
      const apart = cost(last.from, last.to, last.siteIds.size) + cost(r.from, r.to, r.siteIds.size);
      if (cost(from, to, sites.size) <= apart + TOLERANCE) {
        Object.assign(last, { from, to, siteIds: sites });
        continue;
      }
    }
    merged.push({ ...r, siteIds: new Set(r.siteIds) });
  }
  return merged.map((r) => ({
    from: r.from,
    to: r.to,
    siteIds: [...r.siteIds].sort(),
    weight: cost(r.from, r.to, r.siteIds.size),
  }));
}
