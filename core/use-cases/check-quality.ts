/**
 * Run the quality checks declared beside the models (sql/models/<layer>/*.yml, compiled by
 * core/sql/checks.ts) for one interval.
 *
 * Steps:
 * 1. Derive the check window [interval - 24 h, interval + 1 h), widened back to the earliest hour the
 *    latest successful transform of the interval (per checked layer) recomputed, so the checks see
 *    every hour the transform wrote, however late (docs/decisions.md) — or take the caller's window
 *    (a bulk transform's range); and the reference time `now`. Record
 *    the run as "running" in ops.quality_check_runs, leased for its time limit (DB_TASK_LEASE_MS),
 *    and mark running check rows whose lease expired (their process died) "abandoned".
 * 2. In one read-only, repeatable-read transaction (one snapshot for every check) set the
 *    parameters as transaction-local settings (wdo.interval, wdo.interval_start, wdo.window_start,
 *    wdo.window_end, wdo.now: visible to anyone inspecting the session) and run each check, rendered
 *    with the same values as literals; a check passes when it returns zero rows.
 * 3. After releasing the client (embedded PGlite is one session), record the outcome and per-check
 *    results (with each check's severity) in ops.quality_check_runs / ops.quality_check_results. If the checks could not run (a
 *    lost connection: DatabaseUnavailableError), the run is marked failed with the error, retried
 *    through a short outage.
 * 4. Throw QualityCheckFailedError naming the failed checks with sample rows if any check of
 *    severity `error` failed. Failed `warn` checks are recorded and counted (checksWarned) only.
 */
import pg from "pg";
import { retryWhileUnavailable } from "#core/db/errors.ts";
import { ABANDONED_ERROR, TASK_LEASE_EXPIRY } from "#core/db/leases.ts";
import { addHours, type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import type { Log } from "#core/observability/logger.ts";
import { declaredChecks, renderCheck, type Severity } from "#core/sql/checks.ts";
import { LAYERS, type Layer } from "#core/sql/files.ts";

/**
 * Hours before the interval the checks look at at least (a day: the daily relation's horizon); the
 * hours the interval's transform recomputed widen it further back.
 */
export const CHECK_WINDOW_HOURS = 24;
const SAMPLE_ROWS = 5;
// A failing check may match millions of rows; counting stops here.
const MAX_COUNTED_ROWS = 1000;

// Dates stay text in samples: pg would turn them into local-midnight Date objects.
const SAMPLE_TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.DATE
      ? (v: string) => v
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface CheckResult {
  name: string;
  layer: Layer;
  /** `error` blocks (QualityCheckFailedError); `warn` is recorded and counted. */
  severity: Severity;
  passed: boolean;
  /** Rows the check returned, capped at 1000. */
  failingRows: number;
  sample: Record<string, unknown>[];
  durationMs: number;
}

export interface CheckReport {
  /** ops.quality_check_runs.run_id of this run. */
  runId: number;
  interval: Interval;
  layers: Layer[];
  now: string;
  window: { start: string; end: string };
  passed: boolean;
  checksTotal: number;
  /** Failed checks of severity `error`: any of them fails the run. */
  checksFailed: number;
  failed: string[];
  /** Failed checks of severity `warn`: recorded, never blocking. */
  checksWarned: number;
  warned: string[];
  checks: CheckResult[];
}

/**
 * One or more quality checks returned rows. The Step Functions Retry skips this error by name:
 * retrying cannot fix data, so fix the data or the model and rerun the interval.
 */
export class QualityCheckFailedError extends Error {
  override name = "QualityCheckFailedError";
  readonly report: CheckReport;

  constructor(report: CheckReport) {
    const lines = report.checks
      .filter((c) => !c.passed && c.severity === "error")
      .map((c) => {
        const sample = JSON.stringify(c.sample.slice(0, 2));
        return `${c.name} (${c.failingRows}${c.failingRows >= MAX_COUNTED_ROWS ? "+" : ""} rows, e.g. ${sample.slice(0, 400)})`;
      });
    super(
      `${report.checksFailed} of ${report.checksTotal} quality checks failed for interval ${report.interval}: ` +
        `${lines.join("; ")}. See ops.quality_check_results run_id ${report.runId}; fix the data or the ` +
        "model, then rerun the interval.",
    );
    this.report = report;
  }
}

export interface CheckQualityDeps {
  pool: pg.Pool;
  log?: Log;
}

export interface CheckQualityArgs {
  interval: Interval | string;
  /** One layer only; default both. */
  layer?: Layer;
  /** Reference time for freshness (default: the clock). */
  now?: Date;
  /**
   * The hours to check, [start, end), instead of the interval's window (a bulk transform checks its
   * range, core/use-cases/transform.ts transformRange). The interval still names the run and fills
   * the `{{interval}}` placeholders.
   */
  window?: { start: Date; end: Date };
}

function jsonSafe(row: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

/**
 * Runs the checks of `layer` (default: silver and gold) for `interval`, records the results, and
 * returns the report.
 * @throws QualityCheckFailedError when any check returns rows (after recording the results).
 */
export async function runQualityChecks(deps: CheckQualityDeps, args: CheckQualityArgs): Promise<CheckReport> {
  const interval = parseInterval(args.interval);
  const layers = args.layer ? [args.layer] : [...LAYERS];
  const now = args.now ?? new Date();
  let windowStart: Date;
  let windowEnd: Date;
  if (args.window) {
    ({ start: windowStart, end: windowEnd } = args.window);
  } else {
    windowEnd = intervalStart(addHours(interval, 1));
    // The transform records the hours it recomputed; a late hour older than the window widens it.
    // Range runs (backfills, heals) filed under this interval are checked over their own range.
    const recomputed = await deps.pool.query<{ earliest: Date | null }>(
      `select min(h) as earliest
       from (
         select distinct on (layer) affected_hours from ops.transform_runs
         where interval = $1 and layer = any($2) and status = 'succeeded' and mode <> 'range'
         order by layer, run_id desc
       ) as r cross join lateral unnest(r.affected_hours) as h`,
      [interval, layers],
    );
    const earliest = recomputed.rows[0]?.earliest ?? null;
    const defaultStart = intervalStart(addHours(interval, -CHECK_WINDOW_HOURS));
    windowStart = earliest && earliest < defaultStart ? earliest : defaultStart;
  }
  const checks = layers.flatMap((l) => declaredChecks(l));
  const params = {
    interval,
    intervalStart: intervalStart(interval),
    windowStart,
    windowEnd,
    now,
  };
  const startedAt = new Date();

  const settings: Record<string, string> = {
    interval,
    interval_start: intervalStart(interval).toISOString(),
    window_start: windowStart.toISOString(),
    window_end: windowEnd.toISOString(),
    now: now.toISOString(),
  };

  const started = await deps.pool.query<{ run_id: number }>(
    `with takeover as (
       update ops.quality_check_runs set status = 'abandoned', error = $8
       where status = 'running' and lease_expires_at < now()
     )
     insert into ops.quality_check_runs
       (interval, layers, started_at, now_at, window_start, window_end, status, checks_total, checks_failed,
        lease_expires_at)
     values ($1, $2, $3, $4, $5, $6, 'running', $7, 0, ${TASK_LEASE_EXPIRY})
     returning run_id`,
    [interval, layers, startedAt, now, windowStart, windowEnd, checks.length, ABANDONED_ERROR],
  );
  const runId = started.rows[0]?.run_id as number;

  const results: CheckResult[] = [];
  let client: pg.PoolClient | undefined;
  try {
    client = await deps.pool.connect();
    await client.query("begin isolation level repeatable read read only");
    await client.query("set local time zone 'UTC'");
    // Checks scan one window; JIT's compile time costs more than it saves on such scans.
    await client.query("set local jit = off");
    await client.query(
      `select set_config('wdo.interval', $1, true), set_config('wdo.interval_start', $2, true),
              set_config('wdo.window_start', $3, true), set_config('wdo.window_end', $4, true),
              set_config('wdo.now', $5, true)`,
      [settings.interval, settings.interval_start, settings.window_start, settings.window_end, settings.now],
    );
    for (const check of checks) {
      const t0 = performance.now();
      const { rows } = await client.query<Record<string, unknown>>({
        text: `select * from (${renderCheck(check, params)}) as failing limit ${MAX_COUNTED_ROWS}`,
        types: SAMPLE_TYPES,
      });
      results.push({
        name: check.name,
        layer: check.layer,
        severity: check.severity,
        passed: rows.length === 0,
        failingRows: rows.length,
        sample: rows.slice(0, SAMPLE_ROWS).map(jsonSafe),
        durationMs: Math.round((performance.now() - t0) * 100) / 100,
      });
    }
    await client.query("commit");
  } catch (e) {
    await client?.query("rollback").catch(() => {});
    client?.release();
    client = undefined;
    await retryWhileUnavailable(() =>
      deps.pool.query(
        "update ops.quality_check_runs set status = 'failed', finished_at = clock_timestamp(), error = $2 where run_id = $1",
        [runId, e instanceof Error ? `${e.name}: ${e.message}` : String(e)],
      ),
    ).catch((w: unknown) =>
      deps.log?.error("could not record the failed quality-check run", { runId, error: String(w) }),
    );
    throw e;
  } finally {
    client?.release();
  }

  const failed = results.filter((r) => !r.passed && r.severity === "error").map((r) => r.name);
  const warned = results.filter((r) => !r.passed && r.severity === "warn").map((r) => r.name);
  await retryWhileUnavailable(() =>
    deps.pool.query(
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
        failed.length ? "failed" : "passed",
        results.length,
        failed.length,
        JSON.stringify(results),
        warned.length,
      ],
    ),
  );
  const report: CheckReport = {
    runId,
    interval,
    layers,
    now: now.toISOString(),
    window: { start: windowStart.toISOString(), end: windowEnd.toISOString() },
    passed: failed.length === 0,
    checksTotal: results.length,
    checksFailed: failed.length,
    failed,
    checksWarned: warned.length,
    warned,
    checks: results,
  };
  if (!report.passed) {
    deps.log?.warn("quality checks failed", { interval, failed, warned, runId: report.runId });
    throw new QualityCheckFailedError(report);
  }
  if (warned.length) deps.log?.warn("quality checks warned", { interval, warned, runId: report.runId });
  deps.log?.info("quality checks passed", { interval, layers, checks: results.length, runId: report.runId });
  return report;
}
