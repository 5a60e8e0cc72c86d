/**
 * Workflow task: run the quality checks for one interval. Event `{ "interval": "2026-11-22T13" }`.
 * Throws QualityCheckFailedError (not retried by the state machine) when any check returns rows.
 */
import { loadConfig } from "#core/config/env.ts";
import { openRuntime, type Runtime } from "#core/runtime.ts";
import { checkQualityTask } from "#core/workflow/tasks.ts";
import { observability, wrap } from "./shared/wrap.ts";

const config = loadConfig();
const obs = observability(config);
let runtime: Promise<Runtime> | undefined;

export async function lambdaHandler(event: unknown) {
  runtime ??= openRuntime(config, { max: 1 });
  const rt = await runtime;
  const report = await checkQualityTask({ pool: rt.db.pool, log: obs.logger }, event);
  return {
    interval: report.interval,
    passed: report.passed,
    checksTotal: report.checksTotal,
    runId: report.runId,
  };
}

export const handler = wrap(lambdaHandler, obs);
