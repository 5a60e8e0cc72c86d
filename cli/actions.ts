/** The pieces CLI commands compose: one ingestion, one workflow run, a replay — on an open runtime. */
import { PgOpsLedger, pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { type Interval, intervalOf } from "#core/domain/interval.ts";
import type { ProviderSource } from "#core/domain/observation.ts";
import type { Site } from "#core/domain/sites.ts";
import type { Log } from "#core/observability/logger.ts";
import { httpPolicyFromConfig } from "#core/providers/http.ts";
import { parsersFor } from "#core/providers/index.ts";
import { providerFor, type Runtime } from "#core/runtime.ts";
import { fetchHistory, type HistoryArgs, type HistoryResult } from "#core/use-cases/history.ts";
import { type IngestResult, ingestInterval } from "#core/use-cases/ingest.ts";
import { replayHistory, replayIntervals } from "#core/use-cases/replay.ts";
import { type RangeTrigger, transformRange } from "#core/use-cases/transform.ts";
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
      ledger: new PgOpsLedger(rt.db.pool, args.log),
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

/** One history fetch (core/use-cases/history.ts) for `sites` over [from, to], on an open runtime. */
export async function historyOnce(
  rt: Runtime,
  session: SourceSession,
  args: { sites: Site[]; from: Interval; to: Interval; log: Log; onProgress?: HistoryArgs["onProgress"] },
): Promise<HistoryResult> {
  // A simulator the CLI started answers history as of now (its clock is pinned per live hour otherwise).
  session.pin(intervalOf(new Date()));
  return fetchHistory(
    {
      provider: await providerFor(session.config, session.source),
      rawStore: rt.rawStore,
      bronze: rt.bronze,
      policy: httpPolicyFromConfig(session.config),
      log: args.log,
    },
    {
      sites: args.sites,
      from: args.from,
      to: args.to,
      failureThreshold: session.config.SITE_FAILURE_THRESHOLD,
      onProgress: args.onProgress,
    },
  );
}

/**
 * One bulk transform over [from, to] (silver → checks → gold → checks), as heal and backfill take it:
 * a failed gate is a `failed` status with its message, not a throw.
 */
export async function transformRangeOnce(
  rt: Runtime,
  args: { from: Interval; to: Interval; trigger: RangeTrigger; log: Log; out: Output },
): Promise<{ status: "succeeded" | "failed"; runId?: number; error?: string }> {
  args.out.say(`Transforming ${args.from} → ${args.to} in one bulk run (silver → checks → gold → checks)`);
  try {
    const r = await transformRange(pgOpsPorts(rt.db.pool, args.log), {
      from: args.from,
      to: args.to,
      trigger: args.trigger,
    });
    return { status: "succeeded", runId: r.gold.runId };
  } catch (e) {
    args.log.error("range transform failed", { from: args.from, to: args.to, error: String(e) });
    return { status: "failed", error: (e as Error).message };
  }
}

/** Replays the history raw objects of `source` overlapping [from, to] (no API calls); observations loaded. */
export async function replayHistoryRange(
  rt: Runtime,
  args: { from: Interval; to: Interval; source: ProviderSource; log: Log },
): Promise<number> {
  const runs = await replayHistory(
    { rawStore: rt.rawStore, bronze: rt.bronze, log: args.log, providers: parsersFor(rt.config) },
    {
      from: args.from,
      to: args.to,
      sources: [args.source],
      failureThreshold: rt.config.SITE_FAILURE_THRESHOLD,
      maxObjectBytes: rt.config.RAW_MAX_OBJECT_BYTES,
    },
  );
  return runs.reduce((n, r) => n + r.observationsLoaded, 0);
}
