/**
 * Run the quality checks declared beside the models (sql/models/<layer>/*.yml, compiled by
 * core/sql/checks.ts) for one interval.
 *
 * Steps:
 * 1. Derive the check window [interval - 24 h, interval + 1 h), widened back to the earliest hour the
 *    latest successful transform of the interval (per checked layer) recomputed, so the checks see
 *    every hour the transform wrote, however late (docs/decisions.md) — or take the caller's window
 *    (a bulk transform's range); and the reference time `now`. Record the run in the ops ledger
 *    (OpsLedger, core/ports.ts) as "running" in ops.quality_check_runs, leased for its time limit (DB_TASK_LEASE_MS),
 *    and mark running check rows whose lease expired (their process died) "abandoned".
 * 2. Warehouse.runChecks (core/adapters/pg-warehouse.ts): in one read-only, repeatable-read transaction (one snapshot for every check) set the
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
import { addHours, type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import type { Log } from "#core/observability/logger.ts";
import type { CheckResult, CheckSettings, OpsLedger, Warehouse } from "#core/ports.ts";
import { declaredChecks, renderCheck } from "#core/sql/checks.ts";
import { LAYERS, type Layer } from "#core/sql/files.ts";

export type { CheckResult } from "#core/ports.ts";

/**
 * Hours before the interval the checks look at at least (a day: the daily relation's horizon); the
 * hours the interval's transform recomputed widen it further back.
 */
export const CHECK_WINDOW_HOURS = 24;
// The warehouse counts a failing check's rows up to this many (core/adapters/pg-warehouse.ts).
const MAX_COUNTED_ROWS = 1000;

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

/**
 * The ports the checks take: the warehouse runs them in one snapshot, the ops ledger records the run
 * and its results. On Postgres or PGlite: `pgOpsPorts(pool, log)` (core/adapters/pg-ops-ledger.ts).
 */
export interface CheckQualityDeps {
  ledger: OpsLedger;
  warehouse: Warehouse;
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
    const earliest = await deps.ledger.earliestRecomputedHour(interval, layers);
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

  const settings: CheckSettings = {
    interval,
    interval_start: intervalStart(interval).toISOString(),
    window_start: windowStart.toISOString(),
    window_end: windowEnd.toISOString(),
    now: now.toISOString(),
  };

  const runId = await deps.ledger.startCheckRun({
    interval,
    layers,
    startedAt,
    now,
    windowStart,
    windowEnd,
    checksTotal: checks.length,
  });

  let results: CheckResult[];
  try {
    results = await deps.warehouse.runChecks(
      checks.map((c) => ({
        name: c.name,
        layer: c.layer,
        severity: c.severity,
        sql: renderCheck(c, params),
      })),
      settings,
    );
  } catch (e) {
    await deps.ledger
      .failCheckRun(runId, e instanceof Error ? `${e.name}: ${e.message}` : String(e))
      .catch((w: unknown) =>
        deps.log?.error("could not record the failed quality-check run", { runId, error: String(w) }),
      );
    throw e;
  }

  const failed = results.filter((r) => !r.passed && r.severity === "error").map((r) => r.name);
  const warned = results.filter((r) => !r.passed && r.severity === "warn").map((r) => r.name);
  await deps.ledger.finishCheckRun(runId, {
    status: failed.length ? "failed" : "passed",
    checksFailed: failed.length,
    checksWarned: warned.length,
    results,
  });
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
