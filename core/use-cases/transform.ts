/**
 * Transform one layer for one interval (silver from bronze, or gold from silver).
 *
 * Steps:
 * 1. Validate the arguments; derive the window [interval - lookback, interval + 1 h) (lookback 0 by
 *    default: the scope follows the layer's watermark, not a fixed lookback).
 * 2. Record the run in the ops ledger (OpsLedger, core/ports.ts; on Postgres an ops.transform_runs
 *    row: "running", leased for the task's time limit, DB_TASK_LEASE_MS); running rows of the layer
 *    whose lease expired (their process died) are marked "abandoned".
 * 3. Warehouse.transformLayer (core/sql/runner.ts transformInTransaction), in ONE transaction on ONE
 *    client (embedded PGlite is a single session): take the layer's advisory lock, read the layer's
 *    watermark (ops.transform_watermarks), scope what changed below it since whatever the hours'
 *    age, delete + insert every relation of the layer, write the lineage and counts to the run row
 *    (with change_xid, this transaction: gold reads silver's changed hours from it), advance the
 *    watermark, commit.
 * 4. On error: the warehouse rolls back; the ledger marks the run failed (after the client is
 *    released; retried through a short database outage; if even that fails, it is logged, and the
 *    row turns "abandoned" when its lease expires), and the transform's own error is rethrown. A
 *    lost connection surfaces as DatabaseUnavailableError.
 *
 * Concurrent runs of one layer serialize on the lock and each recomputes the same scope, so two
 * runs for one interval leave the same rows as one. Quality checks are not run here: the workflow's
 * SilverChecks state gates Gold, so the gate shows in the execution history.
 *
 * transformRange is the bulk variant for backfills and the daily heal: one silver run, the silver
 * checks, one gold run and the gold checks over a range of hours (mode `range`, see its doc).
 */
import { en } from "zod/locales";
import * as z from "zod/mini";
import { addHours, type Interval, intervalOf, intervalStart, parseInterval } from "#core/domain/interval.ts";
import type { Log } from "#core/observability/logger.ts";
import type { OpsLedger, TransformRunStart, Warehouse } from "#core/ports.ts";
import type { Layer } from "#core/sql/files.ts";
import type { RelationCounts, TransformMode } from "#core/sql/runner.ts";
import { type CheckReport, runQualityChecks } from "#core/use-cases/check-quality.ts";

/**
 * Hours before the interval an incremental run recomputes in addition to what changed since the
 * layer's watermark. Late rows need none (the watermark finds them); a positive value forces hours.
 */
export const DEFAULT_LOOKBACK_HOURS = 0;

/**
 * The ports a transform takes: the ops ledger records the run (start, lease, failure), the warehouse
 * runs its one transaction (which records its success). On Postgres or PGlite:
 * `pgOpsPorts(pool, log)` (core/adapters/pg-ops-ledger.ts).
 */
export interface TransformDeps {
  ledger: OpsLedger;
  warehouse: Warehouse;
  log?: Log;
}

export interface TransformArgs {
  layer: Layer;
  interval: Interval | string;
  /** Hours before the interval to recompute as well (default {@link DEFAULT_LOOKBACK_HOURS}). */
  lookbackHours?: number;
  /** Rebuild the whole layer from the layer below instead of the interval's scope. */
  full?: boolean;
}

export interface TransformResult {
  /** ops.transform_runs.run_id of this run. */
  runId: number;
  layer: Layer;
  interval: Interval;
  mode: TransformMode;
  lookbackHours: number;
  window: { start: string; end: string };
  /** Distinct UTC hours recomputed (incremental only). */
  affectedHours: number;
  /** (site, source, hour) keys in scope; for a full run, the rows read. */
  affectedKeys: number;
  sourceRowsRead: number;
  relations: RelationCounts[];
  ingestionRunIds: string[];
  rawObjectKeys: number;
  durationMs: number;
  /** Range runs only (mode `range`): what started the run. */
  trigger?: RangeTrigger;
}

export class TransformInputError extends Error {
  override name = "TransformInputError";
}

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

const argsSchema = z.object({
  layer: z.enum(["silver", "gold"]),
  interval: z.string(),
  lookbackHours: z.optional(z.number().check(z.int(), z.gte(0), z.lte(24 * 366))),
  full: z.optional(z.boolean()),
});

/**
 * Recomputes `layer` for `interval` (incremental: what changed in the layer below since the layer's
 * last successful run, the interval's ingestion runs and the lookback window; `full`: everything)
 * under the layer's advisory lock, and records the lineage in ops.transform_runs. The silver checks
 * that gate gold are the workflow's SilverChecks state, not part of this function.
 * @throws TransformInputError on a bad layer, interval or lookback.
 */
export async function runTransform(deps: TransformDeps, args: TransformArgs): Promise<TransformResult> {
  const parsed = argsSchema.safeParse(args);
  if (!parsed.success) {
    throw new TransformInputError(
      `Invalid transform arguments: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}. ` +
        `Pass { layer: "silver" | "gold", interval: "YYYY-MM-DDTHH" }.`,
    );
  }
  let interval: Interval;
  try {
    interval = parseInterval(parsed.data.interval);
  } catch (e) {
    throw new TransformInputError((e as Error).message);
  }
  const { layer } = parsed.data;
  const mode: TransformMode = parsed.data.full ? "full" : "incremental";
  const lookbackHours = parsed.data.lookbackHours ?? DEFAULT_LOOKBACK_HOURS;
  const windowStart = intervalStart(addHours(interval, -lookbackHours));
  const windowEnd = intervalStart(addHours(interval, 1));
  const { result } = await executeRun(deps, { layer, interval, mode, lookbackHours, windowStart, windowEnd });
  return result;
}

interface RunSpec {
  layer: Layer;
  interval: Interval;
  mode: TransformMode;
  lookbackHours: number;
  windowStart: Date;
  windowEnd: Date;
  /** Range runs only: what started them (ops.transform_runs.trigger). */
  trigger?: RangeTrigger;
}

/** One run of one layer in one transaction (module doc, steps 2-4); also returns the hours it recomputed. */
async function executeRun(
  deps: TransformDeps,
  spec: RunSpec,
): Promise<{ result: TransformResult; hours: Date[] }> {
  const { layer, interval, mode, lookbackHours, windowStart, windowEnd } = spec;
  const trigger = spec.trigger ?? null;
  const started = performance.now();
  const { ledger, warehouse, log } = deps;
  const run: TransformRunStart = { layer, interval, mode, lookbackHours, windowStart, windowEnd, trigger };

  const { runId, leaseRemainingMs } = await ledger.startTransformRun(run);
  // A range run may outlast any fixed time limit (a year of history): its lease is renewed while it
  // runs, like an ingestion run's, so no other run of the layer takes it for dead.
  const heartbeat = mode === "range" ? ledger.keepTransformRunLeased(runId, leaseRemainingMs) : undefined;
  const fail = async (error: unknown) => {
    log?.error("transform failed", { layer, interval, runId, error: String(error) });
    // Best effort: the original error is what the caller (and the state machine) must see.
    await ledger
      .failTransformRun(runId, error instanceof Error ? `${error.name}: ${error.message}` : String(error))
      .catch((e: unknown) =>
        log?.error("could not record the failed transform run", { runId, error: String(e) }),
      );
  };

  let result: TransformResult | undefined;
  let hours: Date[] = [];
  let failure: unknown;
  try {
    const out = await warehouse.transformLayer(runId, run);
    result = {
      runId,
      layer,
      interval,
      mode,
      lookbackHours,
      window: { start: windowStart.toISOString(), end: windowEnd.toISOString() },
      affectedHours: out.affectedHours.length,
      affectedKeys: out.affectedKeys,
      sourceRowsRead: out.sourceRowsRead,
      relations: out.relations,
      ingestionRunIds: out.ingestionRunIds,
      rawObjectKeys: out.rawObjectKeys.length,
      durationMs: Math.round(performance.now() - started),
      ...(trigger ? { trigger } : {}),
    };
    hours = out.affectedHours;
  } catch (e) {
    failure = e;
  }
  if (!result) {
    await fail(failure);
    await heartbeat?.stop();
    throw failure;
  }
  await heartbeat?.stop();
  log?.info("transform succeeded", { ...result });
  return { result, hours };
}

/** What started a bulk transform: an on-demand backfill, or the scheduled gap healing. */
export type RangeTrigger = "backfill" | "heal";

export interface TransformRangeArgs {
  /** The first hour of the range. */
  from: Interval | string;
  /** The last hour of the range (included). */
  to: Interval | string;
  trigger: RangeTrigger;
  /** Reference time for the freshness check (default: the clock, at most the end of `to`). */
  now?: Date;
}

export interface TransformRangeResult {
  from: Interval;
  to: Interval;
  trigger: RangeTrigger;
  /** [from, to + 1 h): the window both runs recorded in ops.transform_runs. */
  window: { start: string; end: string };
  /** The silver run (mode `range`); its interval is `to`. */
  silver: TransformResult;
  /** The silver gate over the range: gold runs only if it passed. */
  silverChecks: CheckReport;
  /** The gold run (mode `range`): hourly rows of the range, daily rows of its UTC days, moving averages up to `to` + 167 h. */
  gold: TransformResult;
  goldChecks: CheckReport;
  durationMs: number;
}

const rangeSchema = z.object({
  from: z.string(),
  to: z.string(),
  trigger: z.enum(["backfill", "heal"]),
  now: z.optional(z.date()),
});

/**
 * Transforms a range of hours in bulk, for a backfill or the daily heal: ONE silver run over every
 * (site, source) with bronze rows in [from, to + 1 h) (precedence picks one row per hour), the silver
 * checks over the range, ONE gold run (hourly rows of the range, daily rows of the UTC days it
 * touches, moving averages of every hour whose 7-day window holds a range hour, latest conditions),
 * then the gold checks over the range — the workflow's steps and gates, not one workflow per hour.
 *
 * Both runs are recorded in ops.transform_runs with mode `range`, the trigger, the range as window and
 * `to` as interval; the check runs in ops.quality_check_runs with the range (widened back to any
 * earlier hour the runs recomputed) as window and `to` as interval. Each run also takes what changed
 * below since its layer's watermark outside the range, so it can advance the watermark: a later
 * incremental run neither misses a row nor redoes the range.
 * @throws TransformInputError on a bad hour, `from` after `to`, or an unknown trigger.
 * @throws QualityCheckFailedError when a check of severity error fails (silver: gold is not run).
 */
export async function transformRange(
  deps: TransformDeps,
  args: TransformRangeArgs,
): Promise<TransformRangeResult> {
  const parsed = rangeSchema.safeParse(args);
  if (!parsed.success) {
    throw new TransformInputError(
      `Invalid range transform arguments: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}. ` +
        `Pass { from: "YYYY-MM-DDTHH", to: "YYYY-MM-DDTHH", trigger: "backfill" | "heal" }.`,
    );
  }
  let from: Interval;
  let to: Interval;
  try {
    from = parseInterval(parsed.data.from);
    to = parseInterval(parsed.data.to);
  } catch (e) {
    throw new TransformInputError((e as Error).message);
  }
  if (from > to)
    throw new TransformInputError(`The range starts at ${from}, after its end ${to}: swap them.`);
  const { trigger } = parsed.data;
  const started = performance.now();
  const windowStart = intervalStart(from);
  const windowEnd = intervalStart(addHours(to, 1));
  const spec = { interval: to, mode: "range", lookbackHours: 0, windowStart, windowEnd, trigger } as const;
  // As the workflow's checks: a backfilled hour was fresh when it was due (docs/decisions.md).
  const now = parsed.data.now ?? new Date(Math.min(Date.now(), windowEnd.getTime()));
  // The checks look at every hour a run recomputed: the range, and earlier hours that changed.
  const checkWindow = (hours: Date[]) => {
    const earliest = hours[0];
    return { start: earliest && earliest < windowStart ? earliest : windowStart, end: windowEnd };
  };
  const silver = await executeRun(deps, { ...spec, layer: "silver" });
  const silverChecks = await runQualityChecks(deps, {
    interval: to,
    layer: "silver",
    now,
    window: checkWindow(silver.hours),
  });
  const gold = await executeRun(deps, { ...spec, layer: "gold" });
  const goldChecks = await runQualityChecks(deps, {
    interval: to,
    layer: "gold",
    now,
    window: checkWindow(gold.hours),
  });
  const result: TransformRangeResult = {
    from,
    to,
    trigger,
    window: { start: windowStart.toISOString(), end: windowEnd.toISOString() },
    silver: silver.result,
    silverChecks,
    gold: gold.result,
    goldChecks,
    durationMs: Math.round(performance.now() - started),
  };
  deps.log?.info("range transformed", {
    from,
    to,
    trigger,
    silverRows: silver.result.relations[0]?.inserted,
    goldHours: gold.result.relations[0]?.inserted,
    durationMs: result.durationMs,
  });
  return result;
}

/**
 * Rebuilds silver from all of bronze, then gold from all of silver (each under its lock). The
 * interval (default: the current hour) labels the runs and scopes the silver checks gold runs first.
 */
export async function rebuildAll(
  deps: TransformDeps,
  args: { interval?: Interval | string } = {},
): Promise<{ silver: TransformResult; gold: TransformResult }> {
  const interval = args.interval ?? intervalOf(new Date());
  const silver = await runTransform(deps, { layer: "silver", interval, full: true });
  const gold = await runTransform(deps, { layer: "gold", interval, full: true });
  return { silver, gold };
}
