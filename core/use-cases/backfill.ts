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
 */
import { type Interval, intervalOf, intervalRange } from "../domain/interval.ts";
import type { Log } from "../observability/logger.ts";
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
  clock?: () => Date;
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

const sum = (results: IngestResult[]) => results.reduce((n, r) => n + r.observationsLoaded, 0);
