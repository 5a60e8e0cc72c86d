/**
 * Backfill a range of intervals, oldest first.
 *
 * Steps, per interval:
 * 1. Serve the current hour first if it is due and not yet done — a long backfill never starves it.
 * 2. Raw objects exist → replay them (no API calls). None → fetch, if the provider can serve that
 *    hour (history) and the catch-up policy allows it; otherwise record the gap.
 * 3. Run the workflow for the interval (silver → gold → checks).
 *
 * Catch-up policy for intervals without raw objects: `all` fetches every one, `latest` only the most
 * recent (older gaps are reported, not fetched), `skip` none (replay only).
 */
import { type Interval, intervalOf, intervalRange } from "../domain/interval.ts";
import type { Log } from "../observability/logger.ts";
import type { IngestResult } from "./ingest.ts";

export const CATCH_UP = ["all", "latest", "skip"] as const;
export type CatchUp = (typeof CATCH_UP)[number];

export interface BackfillDeps {
  log: Log;
  hasRaw(interval: Interval): Promise<boolean>;
  replay(interval: Interval): Promise<IngestResult[]>;
  ingest(interval: Interval): Promise<IngestResult>;
  /** True when the provider can answer for past hours (the simulator; live APIs serve "now" only). */
  supportsHistory: boolean;
  runWorkflow(interval: Interval): Promise<{ status: string }>;
  clock?: () => Date;
}

export interface BackfillStep {
  interval: Interval;
  action: "replayed" | "fetched" | "missing" | "skipped";
  reason?: string;
  observations: number;
  workflow: string | null;
  /** True when this step served the current hour ahead of the backfill queue. */
  currentHour?: boolean;
}

export interface BackfillReport {
  from: Interval;
  to: Interval;
  catchUp: CatchUp;
  steps: BackfillStep[];
  failed: boolean;
}

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
  const done = new Set<Interval>();
  const steps: BackfillStep[] = [];
  const withoutRaw: Interval[] = [];
  for (const i of intervals) if (!(await deps.hasRaw(i))) withoutRaw.push(i);
  const fetchable = new Set<Interval>(
    args.catchUp === "all" ? withoutRaw : args.catchUp === "latest" ? withoutRaw.slice(-1) : [],
  );

  const process = async (interval: Interval, currentHour: boolean): Promise<void> => {
    done.add(interval);
    let step: BackfillStep;
    if (await deps.hasRaw(interval)) {
      const results = await deps.replay(interval);
      step = { interval, action: "replayed", observations: sum(results), workflow: null };
    } else if (currentHour || (fetchable.has(interval) && deps.supportsHistory)) {
      const result = await deps.ingest(interval);
      step = { interval, action: "fetched", observations: result.observationsLoaded, workflow: null };
    } else {
      const reason = !fetchable.has(interval)
        ? `no raw objects; catch-up policy "${args.catchUp}" does not fetch it`
        : "no raw objects, and the provider serves current weather only (no history)";
      step = {
        interval,
        action: fetchable.has(interval) ? "missing" : "skipped",
        reason,
        observations: 0,
        workflow: null,
      };
    }
    if (step.observations > 0) step.workflow = (await deps.runWorkflow(interval)).status;
    if (currentHour) step.currentHour = true;
    steps.push(step);
    deps.log.info("backfill step", { ...step });
  };

  for (const [n, interval] of intervals.entries()) {
    const current = intervalOf(clock());
    if (!done.has(current) && current > interval) {
      await process(current, true);
    }
    if (!done.has(interval)) await process(interval, interval === current);
    args.onProgress?.(n + 1, intervals.length);
  }
  return {
    from: args.from,
    to: args.to,
    catchUp: args.catchUp,
    steps,
    failed: steps.some((s) => s.action === "missing" || (s.workflow !== null && s.workflow === "failed")),
  };
}

const sum = (results: IngestResult[]) => results.reduce((n, r) => n + r.observationsLoaded, 0);
