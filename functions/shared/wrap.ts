/**
 * The middleware every handler shares: Powertools Logger (Lambda context in each line) and Metrics
 * (EMF, flushed after each invocation) around a bare, testable `lambdaHandler`.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { Config } from "#core/config/env.ts";

export interface Observability {
  logger: Logger;
  metrics: Metrics;
}

export function observability(config: Config): Observability {
  return {
    logger: new Logger({ serviceName: config.POWERTOOLS_SERVICE_NAME }),
    metrics: new Metrics({
      namespace: config.POWERTOOLS_METRICS_NAMESPACE,
      serviceName: config.POWERTOOLS_SERVICE_NAME,
    }),
  };
}

export function wrap<E, R>(fn: (event: E, context?: Context) => Promise<R>, o: Observability) {
  return middy(fn)
    .use(injectLambdaContext(o.logger, { resetKeys: true }))
    .use(logMetrics(o.metrics));
}
