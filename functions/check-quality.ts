/**
 * Workflow task: run the quality checks for one interval. Event `{ "interval": "2026-11-22T13" }`.
 * Throws QualityCheckFailedError (not retried by the state machine) when any check returns rows.
 */

import type { Context } from "aws-lambda";
import { connectDatabase } from "#core/adapters/connect-database.ts";
import { loadConfig } from "#core/config/env.ts";
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
  reportRetry(obs, "QualityChecks", event);
  const db = await database();
  const report = await runWithTimeLimit(
    { ms: handlerDeadlineMs(context), timeoutError: () => new StepTimeoutError("QualityChecks") },
    (signal) => checkQualityTask({ pool: db.pool, log: obs.logger }, event, undefined, { signal }),
  );
  return {
    interval: report.interval,
    passed: report.passed,
    checksTotal: report.checksTotal,
    runId: report.runId,
  };
}

export const handler = wrap(lambdaHandler, obs);
