/**
 * Workflow task: recompute one layer for one interval. Event `{ "layer": "silver" | "gold",
 * "interval": "2026-11-22T13" }` (the state machine's Silver and Gold states).
 */

import { connectDatabase } from "#core/adapters/connect-database.ts";
import { loadConfig } from "#core/config/env.ts";
import { transformTask } from "#core/workflow/tasks.ts";
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
  const result = await transformTask({ pool: db.pool, log: obs.logger }, event);
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
