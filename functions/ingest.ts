/**
 * Ingestion, two ways:
 * - the workflow's ingest phase (workflows/pipeline.asl.json): `{ "action": "plan" }` writes the shard
 *   manifest, `{ "action": "shard", "item" }` ingests one manifest item, `{ "action": "complete" }`
 *   closes the run over every shard → metrics → one `IngestionCompleted` (core/workflow/ingest-tasks.ts);
 * - standalone, every site in one invocation: an EventBridge scheduled event (interval from its
 *   `time`) or a request `{ "interval": "2026-11-22T13" }` → metrics → `IngestionCompleted`, whose rule
 *   then starts the transform-only workflow.
 */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { en } from "zod/locales";
import * as z from "zod/mini";
import { eventBridgePublisher } from "#core/adapters/events.ts";
import { type Config, loadConfig } from "#core/config/env.ts";
import { isDatabaseError } from "#core/db/errors.ts";
import { parseEvent } from "#core/domain/events.ts";
import { type Interval, intervalOf, parseInterval } from "#core/domain/interval.ts";
import { loadSites } from "#core/domain/sites.ts";
import { httpPolicyFromConfig } from "#core/providers/http.ts";
import { openRuntime, providerFor } from "#core/runtime.ts";
import { ingestInterval, ingestionRunId } from "#core/use-cases/ingest.ts";
import type { IngestionSummary, IngestPlan, ShardReport } from "#core/use-cases/shards.ts";
import {
  completeIngestionTask,
  type INGEST_ACTIONS,
  ingestShardTask,
  ingestTaskDeps,
  isIngestAction,
  planIngestTask,
} from "#core/workflow/ingest-tasks.ts";
import { lazy } from "./shared/lazy.ts";
import { reportRetry } from "./shared/step-retry.ts";
import { observability, wrap } from "./shared/wrap.ts";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

// Validated once per container: a misconfigured function fails at cold start, naming the variable.
const config = loadConfig();
const obs = observability(config);
const runtime = lazy(() => openRuntime(config, { max: 2 }));

export const eventSchema = z.union([
  z.pipe(
    z.object({ interval: z.string() }),
    z.transform((e: { interval: string }) => parseInterval(e.interval)),
  ),
  z.pipe(
    z.object({ time: z.string(), "detail-type": z.optional(z.string()) }),
    z.transform((e: { time: string }) => intervalOf(new Date(e.time))),
  ),
]);

export interface IngestSummary {
  runId: string;
  interval: Interval;
  status: "succeeded" | "failed";
  sitesOk: number;
  sitesFailed: number;
  sitesQuarantined: number;
  observationsLoaded: number;
}

export async function lambdaHandler(
  event: unknown,
): Promise<IngestSummary | IngestPlan | ShardReport | IngestionSummary> {
  if (isIngestAction(event)) return workflowStep(event as { action: (typeof INGEST_ACTIONS)[number] });
  const interval = parseEvent(
    eventSchema,
    event,
    'an EventBridge scheduled event (with "time") or { "interval": "2026-11-22T13" }',
  );
  const source = config.WEATHER_SOURCE;
  obs.logger.appendKeys({ interval, source, runId: ingestionRunId(source, interval) });
  const result = await ingest(interval, source).catch((e: unknown) => {
    // A database that is gone before the run could even be recorded still shows on the DbErrors alarm.
    if (isDatabaseError(e)) obs.metrics.addMetric("DbErrors", MetricUnit.Count, 1);
    throw e;
  });

  const m = obs.metrics;
  m.addMetric("SitesSucceeded", MetricUnit.Count, result.sitesOk);
  m.addMetric("SitesFailed", MetricUnit.Count, result.sitesFailed + result.sitesQuarantined);
  m.addMetric("SiteFailureRatio", MetricUnit.Percent, result.siteFailureRatio * 100);
  m.addMetric("ObservationsLoaded", MetricUnit.Count, result.observationsLoaded);
  m.addMetric("DbErrors", MetricUnit.Count, result.dbErrors);
  // Every latency: Powertools flushes a document at 100 values (tests/unit/metrics-flush.test.ts).
  for (const ms of result.fetchLatenciesMs) m.addMetric("FetchLatencyMs", MetricUnit.Milliseconds, ms);

  if (config.EVENT_BUS_NAME)
    await eventBridgePublisher(config, config.EVENT_BUS_NAME).ingestionCompleted({
      interval,
      runId: result.runId,
      status: result.status,
    });
  return {
    runId: result.runId,
    interval,
    status: result.status,
    sitesOk: result.sitesOk,
    sitesFailed: result.sitesFailed,
    sitesQuarantined: result.sitesQuarantined,
    observationsLoaded: result.observationsLoaded,
  };
}

/** The Task state each action serves, for the retry notice. */
const STATE_OF = { plan: "PlanIngest", shard: "IngestShard", complete: "CompleteIngestion" } as const;

/** One step of the workflow's ingest phase; a shard's and the completion's metrics as standalone's. */
async function workflowStep(event: { action: (typeof INGEST_ACTIONS)[number] }) {
  reportRetry(obs, STATE_OF[event.action], event);
  const rt = await runtime();
  const deps = ingestTaskDeps(config, rt, obs.logger);
  const m = obs.metrics;
  const counting = <T>(work: Promise<T>) =>
    work.catch((e: unknown) => {
      if (isDatabaseError(e)) m.addMetric("DbErrors", MetricUnit.Count, 1);
      throw e;
    });
  if (event.action === "plan") return counting(planIngestTask(deps, event));
  if (event.action === "shard") {
    const { report, result } = await counting(ingestShardTask(deps, event));
    m.addMetric("ObservationsLoaded", MetricUnit.Count, result.observationsLoaded);
    m.addMetric("DbErrors", MetricUnit.Count, result.dbErrors);
    for (const ms of result.fetchLatenciesMs) m.addMetric("FetchLatencyMs", MetricUnit.Milliseconds, ms);
    return report;
  }
  const summary = await counting(completeIngestionTask(deps, event));
  m.addMetric("SitesSucceeded", MetricUnit.Count, summary.sitesOk);
  m.addMetric("SitesFailed", MetricUnit.Count, summary.sitesFailed + summary.sitesQuarantined);
  m.addMetric("SiteFailureRatio", MetricUnit.Percent, summary.siteFailureRatio * 100);
  if (config.EVENT_BUS_NAME)
    await eventBridgePublisher(config, config.EVENT_BUS_NAME).ingestionCompleted({
      interval: summary.interval,
      runId: summary.runId,
      status: summary.status,
      // The workflow that ran the shards goes on to the transforms itself: the rule skips this event.
      shards: summary.shards,
      failedShards: summary.failedShards,
      siteFailureRatio: summary.siteFailureRatio,
    });
  return summary;
}

async function ingest(interval: Interval, source: Config["WEATHER_SOURCE"]) {
  const rt = await runtime();
  return ingestInterval(
    {
      provider: await providerFor(config, source),
      rawStore: rt.rawStore,
      bronze: rt.bronze,
      policy: httpPolicyFromConfig(config),
      log: obs.logger,
    },
    {
      interval,
      sites: await loadSites(config.SITES_FILE),
      failureThreshold: config.SITE_FAILURE_THRESHOLD,
      clockToleranceMinutes: config.OBSERVATION_TIME_TOLERANCE_MINUTES,
    },
  );
}

export const handler = wrap(lambdaHandler, obs);
