/**
 * Run leases (migration 0041). A ledger row that says `running` carries `lease_expires_at`; while
 * its process lives the lease is renewed (or, for single-transaction tasks, set to the task's time
 * limit up front). A running row whose lease expired belongs to a process that died: it is reported
 * as `abandoned`, and the next run of that hour takes over.
 *
 * Durations come from the session (`wdo.run_lease_ms`, `wdo.task_lease_ms`, set on every connection
 * from DB_RUN_LEASE_MS / DB_TASK_LEASE_MS, see adapters/database.ts), and expiry is judged by the
 * database clock, so processes on hosts with skewed clocks agree.
 */
import type pg from "pg";
import type { Log } from "../observability/logger.ts";
import { isConnectionLoss } from "./errors.ts";

const leaseMs = (setting: string, fallback: number) =>
  `coalesce(nullif(current_setting('${setting}', true), ''), '${fallback}')::bigint`;

/** SQL: when a heartbeat-renewed lease (ingestion runs, workflow executions) taken now expires. */
export const RUN_LEASE_EXPIRY = `clock_timestamp() + ${leaseMs("wdo.run_lease_ms", 120_000)} * interval '1 millisecond'`;

/** SQL: when a task lease (transform and quality-check runs: their time limit) taken now expires. */
export const TASK_LEASE_EXPIRY = `clock_timestamp() + ${leaseMs("wdo.task_lease_ms", 900_000)} * interval '1 millisecond'`;

/** SQL: milliseconds until the lease of row alias `t` expires (for scheduling heartbeats). */
export const LEASE_REMAINING_MS = (t: string) =>
  `(extract(epoch from (${t}.lease_expires_at - clock_timestamp())) * 1000)::int`;

/** SQL: the status to report for ledger row alias `t`: `abandoned` for a running row past its lease. */
export const effectiveStatus = (t: string) =>
  `(case when ${t}.status = 'running' and ${t}.lease_expires_at < now() then 'abandoned' else ${t}.status end)`;

/** What an abandoned row's `error` says. */
export const ABANDONED_ERROR =
  "abandoned: its lease expired while it was running (the process died or lost the database); a later run took over";

export interface Heartbeat {
  /** Stops renewing; waits for a renewal in flight. */
  stop(): Promise<void>;
}

/**
 * Renews the lease of one running ledger row every third of its length until stopped, or until the
 * row is no longer `running` (finished, or taken over). Renewal failures are logged and retried at
 * the next beat: a database that is back within the lease keeps the run alive. The timer is unref'd,
 * so it never keeps a process alive.
 * @param target the table, its key column and the row's key (trusted identifiers, not user input).
 * @param leaseMs the lease length just granted (the first beat comes after a third of it).
 */
export function startHeartbeat(
  pool: pg.Pool,
  target: { table: string; keyColumn: string; key: string | number },
  leaseMs: number,
  log?: Pick<Log, "warn">,
): Heartbeat {
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(beat, Math.max(250, Math.floor(ms / 3)));
    timer.unref();
  };
  const beat = () => {
    inFlight = (async () => {
      try {
        const { rows } = await pool.query<{ remaining: number }>(
          `update ${target.table} as t set lease_expires_at = ${RUN_LEASE_EXPIRY}
           where ${target.keyColumn} = $1 and status = 'running'
           returning ${LEASE_REMAINING_MS("t")} as remaining`,
          [target.key],
        );
        if (rows[0]) schedule(rows[0].remaining);
        else stopped = true; // finished or taken over: nothing left to renew
      } catch (e) {
        log?.warn("could not renew the run's lease; retrying", {
          table: target.table,
          key: target.key,
          error: (e as Error).message,
          connectionLost: isConnectionLoss(e),
        });
        schedule(leaseMs);
      }
    })();
  };
  schedule(leaseMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}
