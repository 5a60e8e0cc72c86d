/**
 * The retry notice of a workflow step in Lambda: the warn line (core) plus the StepRetries metric,
 * once without the state (what the alarm watches) and once per state (what the dashboard splits by).
 */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { noteRetry } from "#core/workflow/tasks.ts";
import { deadlineFromRemaining } from "#core/workflow/time-limits.ts";
import type { Observability } from "./wrap.ts";

export function reportRetry(obs: Observability, state: string, event: unknown): void {
  if (noteRetry(obs.logger, state, event) === 0) return;
  obs.metrics.addMetric("StepRetries", MetricUnit.Count, 1);
  const perState = obs.metrics.singleMetric();
  perState.addDimension("state", state);
  perState.addMetric("StepRetries", MetricUnit.Count, 1);
}

/** The handler's own deadline: the Lambda's remaining time less the margin to cancel and report. */
export function handlerDeadlineMs(context: Context | undefined): number | undefined {
  return deadlineFromRemaining(context?.getRemainingTimeInMillis?.());
}
