/**
 * Transform one layer for one interval (silver from bronze, or gold from silver).
 *
 * Steps:
 * 1. Validate the arguments; derive the window [interval - lookback, interval + 1 h) (lookback 0 by
 *    default: the scope follows the layer's watermark, not a fixed lookback).
 * 2. Record an ops.transform_runs row ("running", leased for the task's time limit, DB_TASK_LEASE_MS);
 *    running rows of the layer whose lease expired (their process died) are marked "abandoned".
 * 3. In ONE transaction on ONE client (embedded PGlite is a single session): take the layer's
 *    advisory lock, read the layer's watermark (ops.transform_watermarks), scope what changed below
 *    it since (core/sql/runner.ts) whatever the hours' age, delete + insert every relation of the
 *    layer, write the lineage and counts to the run row (with change_xid, this transaction: gold
 *    reads silver's changed hours from it), advance the watermark, commit.
 * 4. On error: roll back, mark the run failed (after releasing the client; retried through a short
 *    database outage), rethrow. A lost connection surfaces as DatabaseUnavailableError.
 *
 * Concurrent runs of one layer serialize on the lock and each recomputes the same scope, so two
 * runs for one interval leave the same rows as one. Quality checks are not run here: the workflow's
 * SilverChecks state gates Gold, so the gate shows in the execution history.
 *
 * transformRange is the bulk variant for backfills and the daily heal: one silver run, the silver
 * checks, one gold run and the gold checks over a range of hours (mode `range`, see its doc).
 */
import type pg from "pg";
import { en } from "zod/locales";
import * as z from "zod/mini";
import { retryWhileUnavailable } from "#core/db/errors.ts";
import {
  ABANDONED_ERROR,
  LEASE_REMAINING_MS,
  RUN_LEASE_EXPIRY,
  startHeartbeat,
  TASK_LEASE_EXPIRY,
} from "#core/db/leases.ts";
import { addHours, type Interval, intervalOf, intervalStart, parseInterval } from "#core/domain/interval.ts";
import type { Log } from "#core/observability/logger.ts";
import type { Layer } from "#core/sql/files.ts";
import { type RelationCounts, runLayer, type TransformMode } from "#core/sql/runner.ts";
import { type CheckReport, runQualityChecks } from "#core/use-cases/check-quality.ts";

/**
 * Hours before the interval an incremental run recomputes in addition to what changed since the
 * layer's watermark. Late rows need none (the watermark finds them); a positive value forces hours.
 */
export const DEFAULT_LOOKBACK_HOURS = 0;

// Two-key advisory lock: a namespace for this project and one key per layer.
const LOCK_NAMESPACE = 0x57444f; // "WDO"
const LOCK_KEY: Record<Layer, number> = { silver: 1, gold: 2 };

export interface TransformDeps {
  pool: pg.Pool;
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
  const { pool, log } = deps;

  const runRow = await pool.query<{ run_id: number; remaining: number }>(
    `with takeover as (
       update ops.transform_runs set status = 'abandoned', error = $7
       where layer = $1 and status = 'running' and lease_expires_at < now()
     )
     insert into ops.transform_runs
       (layer, interval, mode, lookback_hours, window_start, window_end, status, started_at, lease_expires_at,
        trigger)
     values ($1, $2, $3, $4, $5, $6, 'running', clock_timestamp(),
       ${mode === "range" ? RUN_LEASE_EXPIRY : TASK_LEASE_EXPIRY}, $8)
     returning run_id, ${LEASE_REMAINING_MS("transform_runs")} as remaining`,
    [layer, interval, mode, lookbackHours, windowStart, windowEnd, ABANDONED_ERROR, trigger],
  );
  const runId = runRow.rows[0]?.run_id as number;
  // A range run may outlast any fixed time limit (a year of history): its lease is renewed while it
  // runs, like an ingestion run's, so no other run of the layer takes it for dead.
  const heartbeat =
    mode === "range"
      ? startHeartbeat(
          pool,
          { table: "ops.transform_runs", keyColumn: "run_id", key: runId },
          runRow.rows[0]?.remaining ?? 0,
          log,
        )
      : undefined;
  const fail = async (error: unknown) => {
    log?.error("transform failed", { layer, interval, runId, error: String(error) });
    // Best effort: the original error is what the caller (and the state machine) must see.
    await retryWhileUnavailable(() =>
      pool.query(
        `update ops.transform_runs set status = 'failed', finished_at = clock_timestamp(), error = $2
         where run_id = $1`,
        [runId, error instanceof Error ? `${error.name}: ${error.message}` : String(error)],
      ),
    ).catch((e: unknown) =>
      log?.error("could not record the failed transform run", { runId, error: String(e) }),
    );
  };

  let result: TransformResult | undefined;
  let hours: Date[] = [];
  let failure: unknown;
  let client: pg.PoolClient | undefined;
  let broken = false;
  try {
    client = await pool.connect();
    await client.query("begin");
    await client.query("set local time zone 'UTC'");
    await client.query("select pg_advisory_xact_lock($1, $2)", [LOCK_NAMESPACE, LOCK_KEY[layer]]);
    // Transforms sort and window whole scopes (a full rebuild: whole tables); spilling to disk at
    // the default 4 MB is what makes them slow. Two layers at most run at once (the locks).
    await client.query(`set local work_mem = '${mode === "incremental" ? "64MB" : "256MB"}'`);
    const mark = await client.query<{ watermark: string }>(
      "select watermark::text as watermark from ops.transform_watermarks where layer = $1",
      [layer],
    );
    const watermark = mark.rows[0]?.watermark ?? null;
    const out = await runLayer(client, layer, { mode, interval, windowStart, windowEnd, watermark });
    // Runs of a layer serialize on its lock and take their snapshot after it, so each watermark
    // shows at least what the previous one did.
    await client.query(
      `insert into ops.transform_watermarks as w (layer, watermark, transform_run_id, updated_at)
       values ($1, $2::pg_snapshot, $3, clock_timestamp())
       on conflict (layer) do update set
         watermark = excluded.watermark,
         transform_run_id = excluded.transform_run_id, updated_at = excluded.updated_at`,
      [layer, out.nextWatermark, runId],
    );
    await client.query(
      `update ops.transform_runs set
         status = 'succeeded', finished_at = clock_timestamp(), change_xid = pg_current_xact_id(),
         affected_hours = $2, affected_keys = $3, source_rows_read = $4,
         ingestion_run_ids = $5, raw_object_keys = $6, relations = $7
       where run_id = $1`,
      [
        runId,
        out.affectedHours,
        out.affectedKeys,
        out.sourceRowsRead,
        out.ingestionRunIds,
        out.rawObjectKeys,
        JSON.stringify(out.relations),
      ],
    );
    await client.query("commit");
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
    await client?.query("rollback").catch(() => {
      broken = true;
    });
  } finally {
    // A connection that cannot even roll back is destroyed rather than returned to the pool.
    client?.release(broken);
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
