/**
 * The workflow's task bodies: parse the event, call one use case, return a small result. The Lambda
 * handlers wrap these, and the embedded engine calls the very same functions.
 */
import pg from "pg";
import { en } from "zod/locales";
import * as z from "zod/mini";
import { pgOpsPorts } from "../adapters/pg-ops-ledger.ts";
import { parseEvent } from "../domain/events.ts";
import { addHours, intervalStart, parseInterval } from "../domain/interval.ts";
import type { Log } from "../observability/logger.ts";
import { runQualityChecks } from "../use-cases/check-quality.ts";
import { runTransform } from "../use-cases/transform.ts";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

export interface TaskDeps {
  pool: pg.Pool;
  log: Log;
  /** PGlite: one session running in this thread, so a statement cannot be cancelled from outside. */
  embedded?: boolean;
}

export interface TaskOptions {
  /** Aborted when the step's time limit passes: the task's running SQL is then cancelled. */
  signal?: AbortSignal;
}

const intervalField = z.pipe(
  z.string(),
  z.transform((s: string) => parseInterval(s)),
);

/** `$$.State.RetryCount`, which the state machine passes so a retry can say so. */
const retryCountField = z.optional(z.number().check(z.int(), z.gte(0)));

export const transformEventSchema = z.object({
  layer: z.enum(["silver", "gold"]),
  interval: intervalField,
  retryCount: retryCountField,
});
export const checkEventSchema = z.object({
  interval: intervalField,
  layer: z.optional(z.enum(["silver", "gold"])),
  retryCount: retryCountField,
});

/**
 * A Lambda handler gave up on its step just before its time limit and cancelled the step's SQL; the
 * state machine retries it like a States.Timeout.
 */
export class StepTimeoutError extends Error {
  override name = "StepTimeoutError";
  constructor(state: string) {
    super(
      `${state} reached its time limit and its SQL was cancelled; the workflow retries it. If this repeats, see docs/runbook.md#step-timeouts-and-retries`,
    );
  }
}

/** The Task state a transform event belongs to (the Silver and Gold states share one function). */
export function transformStateOf(event: unknown): "Silver" | "Gold" {
  return (event as { layer?: unknown } | null)?.layer === "gold" ? "Gold" : "Silver";
}

/**
 * The retry notice every step leaves: a warn line when the state machine says this invocation is a
 * retry (`retryCount` > 0). Returns the count so the caller can add the StepRetries metric.
 */
export function noteRetry(log: Log, state: string, event: unknown): number {
  const e = (event ?? {}) as { retryCount?: unknown; interval?: unknown };
  const n = e.retryCount;
  const retryCount = typeof n === "number" && Number.isInteger(n) && n > 0 ? n : 0;
  if (retryCount > 0)
    log.warn("step retried: an earlier attempt failed or timed out", {
      state,
      interval: e.interval,
      retryCount,
      metric: "StepRetries",
    });
  return retryCount;
}

/**
 * Runs `work` and, if `signal` aborts first, cancels the statements of the connections it holds
 * (pg_cancel_backend from a separate connection): the transaction rolls back, the advisory lock is
 * released, and a retry does not queue behind a zombie. PGlite runs each statement to its end in this
 * thread, so there the next attempt simply waits for the single session.
 */
async function cancellingOnAbort<T>(deps: TaskDeps, signal: AbortSignal | undefined, work: () => Promise<T>) {
  if (!signal || deps.embedded) return work();
  const held = new Set<number>();
  const pidOf = (client: pg.PoolClient) => (client as unknown as { processID?: number }).processID;
  const onAcquire = (client: pg.PoolClient) => {
    const pid = pidOf(client);
    if (pid) held.add(pid);
  };
  const onRelease = (_err: unknown, client: pg.PoolClient) => {
    const pid = pidOf(client);
    if (pid) held.delete(pid);
  };
  const onAbort = () => void cancelBackends(deps, [...held]);
  deps.pool.on("acquire", onAcquire);
  deps.pool.on("release", onRelease);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await work();
  } finally {
    deps.pool.off("acquire", onAcquire);
    deps.pool.off("release", onRelease);
    signal.removeEventListener("abort", onAbort);
  }
}

async function cancelBackends(deps: TaskDeps, pids: number[]) {
  if (pids.length === 0) return;
  // The pool may be busy (Lambda holds one client): cancel from a connection of its own.
  const client = new pg.Client({ ...deps.pool.options, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query("select pg_cancel_backend(pid) from unnest($1::int[]) as pid", [pids]);
    deps.log.warn("time limit passed: cancelled the step's running statements", { pids });
  } catch (e) {
    deps.log.error("could not cancel the timed-out step's statements", { pids, error: (e as Error).message });
  } finally {
    await client.end().catch(() => {});
  }
}

export async function transformTask(deps: TaskDeps, event: unknown, opts: TaskOptions = {}) {
  const e = parseEvent(
    transformEventSchema,
    event,
    '{ "layer": "silver" | "gold", "interval": "2026-11-22T13" }',
  );
  return cancellingOnAbort(deps, opts.signal, () =>
    runTransform(pgOpsPorts(deps.pool, deps.log), { layer: e.layer, interval: e.interval }),
  );
}

/**
 * Freshness is judged as of the interval's end (or now, if earlier): a backfilled hour was fresh when
 * it was due; whether data keeps arriving now is the no-data alarm's job.
 */
export async function checkQualityTask(
  deps: TaskDeps,
  event: unknown,
  clock: () => Date = () => new Date(),
  opts: TaskOptions = {},
) {
  const e = parseEvent(checkEventSchema, event, '{ "interval": "2026-11-22T13" }');
  const due = intervalStart(addHours(e.interval, 1));
  const now = new Date(Math.min(clock().getTime(), due.getTime()));
  return cancellingOnAbort(deps, opts.signal, () =>
    runQualityChecks(pgOpsPorts(deps.pool, deps.log), { interval: e.interval, layer: e.layer, now }),
  );
}
