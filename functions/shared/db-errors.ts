/**
 * The DbErrors metric of the workflow tasks: 1 when the database was unreachable or the connection
 * was lost (DatabaseUnavailableError / DatabaseConfigError; the step fails and the state machine
 * retries it), 0 otherwise, so the alarm sees a continuous series.
 */
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { isDatabaseError } from "#core/db/errors.ts";

export async function countingDbErrors<T>(metrics: Metrics, fn: () => Promise<T>): Promise<T> {
  try {
    const result = await fn();
    metrics.addMetric("DbErrors", MetricUnit.Count, 0);
    return result;
  } catch (e) {
    metrics.addMetric("DbErrors", MetricUnit.Count, isDatabaseError(e) ? 1 : 0);
    throw e;
  }
}
