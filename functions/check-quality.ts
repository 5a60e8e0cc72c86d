/**
 * Workflow task: run the quality checks for one interval. Event `{ "interval": "2026-11-22T13" }`.
 * Throws QualityCheckFailedError (not retried by the state machine) when any check returns rows.
 */

import { connectDatabase } from "#core/adapters/connect-database.ts";
import { loadConfig } from "#core/config/env.ts";
import { checkQualityTask } from "#core/workflow/tasks.ts";
import { countingDbErrors } from "./shared/db-errors.ts";
import { lazy } from "./shared/lazy.ts";
import { observability, wrap } from "./shared/wrap.ts";

const config = loadConfig();
const obs = observability(config);
// One pool per container, opened on first use.
const database = lazy(() => connectDatabase(config, { max: 1 }));

export async function lambdaHandler(event: unknown) {
  return countingDbErrors(obs.metrics, () => handle(event));
}

async function handle(event: unknown) {
  const db = await database();
  const report = await checkQualityTask({ pool: db.pool, log: obs.logger }, event);
  return {
    interval: report.interval,
    passed: report.passed,
    checksTotal: report.checksTotal,
    runId: report.runId,
  };
}

export const handler = wrap(lambdaHandler, obs);
