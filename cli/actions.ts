/** The pieces CLI commands compose: one ingestion, one workflow run, a replay — on an open runtime. */
import type { Interval } from "#core/domain/interval.ts";
import type { ProviderSource } from "#core/domain/observation.ts";
import type { Site } from "#core/domain/sites.ts";
import type { Log } from "#core/observability/logger.ts";
import { httpPolicyFromConfig } from "#core/providers/http.ts";
import { parsersFor } from "#core/providers/index.ts";
import { providerFor, type Runtime } from "#core/runtime.ts";
import { type IngestResult, ingestInterval } from "#core/use-cases/ingest.ts";
import { replayIntervals } from "#core/use-cases/replay.ts";
import {
  type EngineOptions,
  localTasks,
  runEmbeddedWorkflow,
  type WorkflowResult,
} from "#core/workflow/embedded-engine.ts";
import { timeLimitsFromConfig } from "#core/workflow/time-limits.ts";
import type { SourceSession } from "./context.ts";
import type { Output } from "./output.ts";

export async function ingestOnce(
  rt: Runtime,
  session: SourceSession,
  args: { interval: Interval; sites: Site[]; log: Log; out: Output },
): Promise<IngestResult> {
  session.pin(args.interval);
  args.out.say(
    `Ingesting ${args.sites.length} sites from ${session.source} for ${args.interval} into ${rt.rawStore.location}`,
  );
  const bar = args.out.progress(args.sites.length, "sites");
  try {
    return await ingestInterval(
      {
        provider: await providerFor(session.config, session.source),
        rawStore: rt.rawStore,
        bronze: rt.bronze,
        policy: httpPolicyFromConfig(session.config),
        log: args.log,
      },
      {
        interval: args.interval,
        sites: args.sites,
        failureThreshold: session.config.SITE_FAILURE_THRESHOLD,
        clockToleranceMinutes: session.config.OBSERVATION_TIME_TOLERANCE_MINUTES,
        onProgress: (p) => bar.update(p.sitesDone),
      },
    );
  } finally {
    bar.stop();
  }
}

/** Runs the ASL for one interval with the same task functions the Lambdas wrap. */
export async function workflowOnce(
  rt: Runtime,
  args: { interval: Interval; log: Log; out: Output } & EngineOptions,
): Promise<WorkflowResult> {
  args.out.say(`Running the workflow (silver → silver checks → gold → gold checks) for ${args.interval}`);
  return runEmbeddedWorkflow(
    {
      pool: rt.db.pool,
      log: args.log,
      tasks: localTasks({ pool: rt.db.pool, log: args.log, embedded: rt.db.embedded }),
    },
    { interval: args.interval },
    { force: args.force, retryIntervalMs: args.retryIntervalMs, timeLimits: timeLimitsFromConfig(rt.config) },
  );
}

export function replayRange(
  rt: Runtime,
  args: { from: Interval; to: Interval; sources?: ProviderSource[]; log: Log },
): Promise<IngestResult[]> {
  return replayIntervals(
    {
      rawStore: rt.rawStore,
      bronze: rt.bronze,
      log: args.log,
      providers: parsersFor(rt.config),
    },
    {
      from: args.from,
      to: args.to,
      sources: args.sources,
      failureThreshold: rt.config.SITE_FAILURE_THRESHOLD,
      clockToleranceMinutes: rt.config.OBSERVATION_TIME_TOLERANCE_MINUTES,
      maxObjectBytes: rt.config.RAW_MAX_OBJECT_BYTES,
    },
  );
}

export function describeIngest(r: IngestResult): string {
  const lines = [
    `${r.runId}: ${r.status.toUpperCase()} — ${r.sitesOk}/${r.sitesTotal} sites ok, ${r.sitesFailed} failed, ${r.sitesQuarantined} quarantined`,
    `${r.observationsLoaded} observations loaded (${r.rowsChanged} bronze rows changed); fetch p50 ${r.fetchLatencyP50Ms ?? "-"} ms, p95 ${r.fetchLatencyP95Ms ?? "-"} ms`,
  ];
  for (const s of r.sites.filter((s) => s.status !== "ok"))
    lines.push(`  ${s.siteId}: ${s.status} — ${s.reason}`);
  return lines.join("\n");
}

export function describeWorkflow(w: WorkflowResult): string {
  if (w.status === "skipped")
    return `workflow ${w.executionName}: already succeeded — nothing to do (use --force to rerun)`;
  const byState = Object.entries(w.retriesByState).map(([state, n]) => `${state} ${n}`);
  if (w.status === "succeeded")
    return `workflow ${w.executionName}: SUCCEEDED (${w.retries} retries${byState.length ? `: ${byState.join(", ")}` : ""})`;
  return `workflow ${w.executionName}: FAILED in ${w.failedState ?? "?"} — ${w.error}: ${w.cause}`;
}

/** An ingest result without the bulky per-attempt latencies, for JSON documents. */
export function compactIngest(r: IngestResult) {
  const { fetchLatenciesMs: _, ...rest } = r;
  return rest;
}
