/**
 * Workflow task: recompute one layer for one interval. Event `{ "layer": "silver" | "gold",
 * "interval": "2026-11-22T13" }` (the state machine's Silver and Gold states).
 */
import { loadConfig } from "#core/config/env.ts";
import { openRuntime, type Runtime } from "#core/runtime.ts";
import { transformTask } from "#core/workflow/tasks.ts";
import { observability, wrap } from "./shared/wrap.ts";

const config = loadConfig();
const obs = observability(config);
let runtime: Promise<Runtime> | undefined;

export async function lambdaHandler(event: unknown) {
  runtime ??= openRuntime(config, { max: 1 });
  const rt = await runtime;
  const result = await transformTask({ pool: rt.db.pool, log: obs.logger }, event);
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
