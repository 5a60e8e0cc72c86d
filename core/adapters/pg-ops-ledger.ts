/**
 * The operations ledger (core/ports.ts `OpsLedger`) on Postgres: ops.transform_runs,
 * ops.quality_check_runs, ops.quality_check_results, ops.workflow_executions and ops.notifications.
 * The statements are the ones the transform and check-quality use cases and the embedded workflow
 * engine ran themselves before the port existed; leases and the `abandoned`
 * takeover follow core/db/leases.ts (durations from the session, expiry by the database clock).
 */
import type pg from "pg";
import { retryWhileUnavailable } from "#core/db/errors.ts";
import {
  ABANDONED_ERROR,
  LEASE_REMAINING_MS,
  RUN_LEASE_EXPIRY,
  startHeartbeat,
  TASK_LEASE_EXPIRY,
} from "#core/db/leases.ts";
import type { Interval } from "#core/domain/interval.ts";
import type { Log } from "#core/observability/logger.ts";
import type {
  CheckResult,
  CheckRunStart,
  LeaseHeartbeat,
  ModelLayer,
  OpsLedger,
  TransformRunStart,
  Warehouse,
} from "#core/ports.ts";
import { PgWarehouse } from "./pg-warehouse.ts";

export class PgOpsLedger implements OpsLedger {
  constructor(
    private readonly pool: pg.Pool,
    private readonly log?: Pick<Log, "warn">,
  ) {}

  async startTransformRun(run: TransformRunStart): Promise<{ runId: number; leaseRemainingMs: number }> {
    const { rows } = await this.pool.query<{ run_id: number; remaining: number }>(
      `with takeover as (
         update ops.transform_runs set status = 'abandoned', error = $7
         where layer = $1 and status = 'running' and lease_expires_at < now()
       )
       insert into ops.transform_runs
         (layer, interval, mode, lookback_hours, window_start, window_end, status, started_at, lease_expires_at,
          trigger)
       values ($1, $2, $3, $4, $5, $6, 'running', clock_timestamp(),
         ${run.mode === "range" ? RUN_LEASE_EXPIRY : TASK_LEASE_EXPIRY}, $8)
       returning run_id, ${LEASE_REMAINING_MS("transform_runs")} as remaining`,
      [
        run.layer,
        run.interval,
        run.mode,
        run.lookbackHours,
        run.windowStart,
        run.windowEnd,
        ABANDONED_ERROR,
        run.trigger,
      ],
    );
    return { runId: rows[0]?.run_id as number, leaseRemainingMs: rows[0]?.remaining ?? 0 };
  }

  keepTransformRunLeased(runId: number, leaseMs: number): LeaseHeartbeat {
    return startHeartbeat(
      this.pool,
      { table: "ops.transform_runs", keyColumn: "run_id", key: runId },
      leaseMs,
      this.log,
    );
  }

  async failTransformRun(runId: number, error: string): Promise<void> {
    await retryWhileUnavailable(() =>
      this.pool.query(
        `update ops.transform_runs set status = 'failed', finished_at = clock_timestamp(), error = $2
         where run_id = $1`,
        [runId, error],
      ),
    );
  }

  async earliestRecomputedHour(interval: Interval, layers: ModelLayer[]): Promise<Date | null> {
    // Range runs (backfills, heals) filed under this interval are checked over their own range.
    const { rows } = await this.pool.query<{ earliest: Date | null }>(
      `select min(h) as earliest
       from (
         select distinct on (layer) affected_hours from ops.transform_runs
         where interval = $1 and layer = any($2) and status = 'succeeded' and mode <> 'range'
         order by layer, run_id desc
       ) as r cross join lateral unnest(r.affected_hours) as h`,
      [interval, layers],
    );
    return rows[0]?.earliest ?? null;
  }

  async startCheckRun(run: CheckRunStart): Promise<number> {
    const { rows } = await this.pool.query<{ run_id: number }>(
      `with takeover as (
         update ops.quality_check_runs set status = 'abandoned', error = $8
         where status = 'running' and lease_expires_at < now()
       )
       insert into ops.quality_check_runs
         (interval, layers, started_at, now_at, window_start, window_end, status, checks_total, checks_failed,
          lease_expires_at)
       values ($1, $2, $3, $4, $5, $6, 'running', $7, 0, ${TASK_LEASE_EXPIRY})
       returning run_id`,
      [
        run.interval,
        run.layers,
        run.startedAt,
        run.now,
        run.windowStart,
        run.windowEnd,
        run.checksTotal,
        ABANDONED_ERROR,
      ],
    );
    return rows[0]?.run_id as number;
  }

  async failCheckRun(runId: number, error: string): Promise<void> {
    await retryWhileUnavailable(() =>
      this.pool.query(
        "update ops.quality_check_runs set status = 'failed', finished_at = clock_timestamp(), error = $2 where run_id = $1",
        [runId, error],
      ),
    );
  }

  async finishCheckRun(
    runId: number,
    outcome: {
      status: "passed" | "failed";
      checksFailed: number;
      checksWarned: number;
      results: CheckResult[];
    },
  ): Promise<void> {
    await retryWhileUnavailable(() =>
      this.pool.query(
        `with run as (
           update ops.quality_check_runs
           set finished_at = clock_timestamp(), status = $2, checks_total = $3, checks_failed = $4,
             checks_warned = $6
           where run_id = $1
           returning run_id
         ),
         results as (
           insert into ops.quality_check_results
             (run_id, check_name, layer, severity, passed, failing_rows, sample, duration_ms)
           select run.run_id, r.name, r.layer, r.severity, r.passed, r."failingRows", r.sample, r."durationMs"
           from run, jsonb_to_recordset($5::jsonb) as r(
             name text, layer text, severity text, passed boolean, "failingRows" integer, sample jsonb, "durationMs" double precision)
           on conflict (run_id, check_name) do nothing -- a retry after a commit whose reply was lost
         )
         select run_id from run`,
        [
          runId,
          outcome.status,
          outcome.results.length,
          outcome.checksFailed,
          JSON.stringify(outcome.results),
          outcome.checksWarned,
        ],
      ),
    );
  }

  async executionStatus(executionName: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ status: string }>(
      "select status from ops.workflow_executions where execution_name = $1",
      [executionName],
    );
    return rows[0]?.status ?? null;
  }

  async startExecution(executionName: string, interval: Interval): Promise<{ leaseRemainingMs: number }> {
    const { rows } = await this.pool.query<{ remaining: number }>(
      `insert into ops.workflow_executions as w (execution_name, interval, status, started_at, lease_expires_at)
       values ($1, $2, 'running', now(), ${RUN_LEASE_EXPIRY})
       on conflict (execution_name) do update set status = 'running', attempt = w.attempt + 1,
         started_at = now(), finished_at = null, failed_state = null, error = null, cause = null, events = '[]',
         lease_expires_at = excluded.lease_expires_at
       returning ${LEASE_REMAINING_MS("w")} as remaining`,
      [executionName, interval],
    );
    return { leaseRemainingMs: rows[0]?.remaining ?? 0 };
  }

  keepExecutionLeased(executionName: string, leaseMs: number): LeaseHeartbeat {
    return startHeartbeat(
      this.pool,
      { table: "ops.workflow_executions", keyColumn: "execution_name", key: executionName },
      leaseMs,
      this.log,
    );
  }

  async recordNotification(n: {
    executionName: string;
    interval: Interval;
    subject: string;
    message: unknown;
  }): Promise<void> {
    await this.pool.query(
      "insert into ops.notifications (execution_name, interval, subject, message) values ($1, $2, $3, $4)",
      [n.executionName, n.interval, n.subject, JSON.stringify(n.message)],
    );
  }

  async finishExecution(
    executionName: string,
    outcome: {
      status: "succeeded" | "failed";
      failedState: string | null;
      error: string | null;
      cause: string | null;
      events: unknown[];
    },
  ): Promise<void> {
    await retryWhileUnavailable(() =>
      this.pool.query(
        `update ops.workflow_executions set status = $2, finished_at = now(), failed_state = $3, error = $4,
           cause = $5, events = $6 where execution_name = $1`,
        [
          executionName,
          outcome.status,
          outcome.failedState,
          outcome.error,
          outcome.cause,
          JSON.stringify(outcome.events),
        ],
      ),
    );
  }
}

/** The ports the transform and check-quality use cases take, on one Postgres (or PGlite) pool. */
export interface OpsPorts {
  ledger: OpsLedger;
  warehouse: Warehouse;
  log?: Log;
}

/** Wires {@link PgOpsLedger} and {@link PgWarehouse} on `pool`: what a runtime passes to the use cases. */
export function pgOpsPorts(pool: pg.Pool, log?: Log): OpsPorts {
  return { ledger: new PgOpsLedger(pool, log), warehouse: new PgWarehouse(pool), ...(log ? { log } : {}) };
}
