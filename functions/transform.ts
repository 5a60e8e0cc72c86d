/**
 * Workflow task: recompute one layer for one interval. Event `{ "layer": "silver" | "gold",
 * "interval": "2026-11-22T13" }` (the state machine's Silver and Gold states).
 */

import type { Context } from "aws-lambda";
import { connectDatabase } from "#core/adapters/connect-database.ts";
import { loadConfig } from "#core/config/env.ts";
import { StepTimeoutError, transformStateOf, transformTask } from "#core/workflow/tasks.ts";
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
  const state = transformStateOf(event);
  reportRetry(obs, state, event);
  const db = await database();
  // Step Functions does not stop a Lambda whose Task timed out: the handler stops its own SQL first.
  const result = await runWithTimeLimit(
    { ms: handlerDeadlineMs(context), timeoutError: () => new StepTimeoutError(state) },
    (signal) => transformTask({ pool: db.pool, log: obs.logger }, event, { signal }),
  );
  obs.logger.info("transform finished", {
    layer: result.layer,
    interval: result.interval,
    runId: result.runId,
  });
  return {
    layer: result.layer,
    interval: result.interval,
    runId: result.runId,
    mode: result.mode,
    relations: result.relations,
  };
}

export const handler = wrap(lambdaHandler, obs);
