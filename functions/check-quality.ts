/**
 * Workflow task: run the quality checks of one layer for one interval. Event
 * `{ "interval": "2026-11-22T13", "layer": "silver" }` (the SilverChecks state; QualityChecks sends
 * "gold"). Throws QualityCheckFailedError (not retried by the state machine) when a check of severity
 * error returns rows. Publishes QualityCheckFailed (failed error checks, 0 when passing: the
 * quality-check-failed alarm) and QualityCheckWarned (failed warn checks) whenever the checks ran.
 */

import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { connectDatabase } from "#core/adapters/connect-database.ts";
import { loadConfig } from "#core/config/env.ts";
import { type CheckReport, QualityCheckFailedError } from "#core/use-cases/check-quality.ts";
import { checkQualityTask, StepTimeoutError } from "#core/workflow/tasks.ts";
import { runWithTimeLimit } from "#core/workflow/time-limits.ts";
import { countingDbErrors } from "./shared/db-errors.ts";
import { lazy } from "./shared/lazy.ts";
import { handlerDeadlineMs, reportRetry } from "./shared/step-retry.ts";
import { observability, wrap } from "./shared/wrap.ts";

const config = loadConfig();
const obs = observability(config);
// One pool per container, opened on first use.
const database = lazy(() => connectDatabase(config, { max: 1 }));

export async function lambdaHandler(event: unknown, context?: Context) {
  return countingDbErrors(obs.metrics, () => handle(event, context));
}

async function handle(event: unknown, context?: Context) {
  const state = stateOf(event);
  reportRetry(obs, state, event);
  const db = await database();
  let report: CheckReport;
  try {
    report = await runWithTimeLimit(
      { ms: handlerDeadlineMs(context), timeoutError: () => new StepTimeoutError(state) },
      (signal) => checkQualityTask({ pool: db.pool, log: obs.logger }, event, undefined, { signal }),
    );
  } catch (e) {
    if (e instanceof QualityCheckFailedError) countChecks(e.report);
    throw e;
  }
  countChecks(report);
  return {
    interval: report.interval,
    layers: report.layers,
    passed: report.passed,
    checksTotal: report.checksTotal,
    checksWarned: report.checksWarned,
    warned: report.warned,
    runId: report.runId,
  };
}

/** The ASL state that sent the event, for retry metrics and time-out errors. */
function stateOf(event: unknown): string {
  const layer = (event as { layer?: unknown } | null)?.layer;
  return layer === "silver" ? "SilverChecks" : "QualityChecks";
}

function countChecks(report: CheckReport) {
  obs.metrics.addMetric("QualityCheckFailed", MetricUnit.Count, report.checksFailed);
  obs.metrics.addMetric("QualityCheckWarned", MetricUnit.Count, report.checksWarned);
}

export const handler = wrap(lambdaHandler, obs);
