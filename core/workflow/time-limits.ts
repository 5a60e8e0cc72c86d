/**
 * Time limits of the pipeline: one per Task state plus one for the whole execution. The ASL file
 * carries the defaults as literal numbers (so it stays plain, valid JSON); every runtime replaces them
 * with its own settings through {@link applyTimeLimits} — the CDK stack with the stage's
 * (stacks/settings.ts), the embedded engine with the environment's (core/config/env.ts).
 */
import type { Config } from "../config/env.ts";

/** The Task states of workflows/pipeline.asl.json, each with its own limit. */
export const TIMED_STATES = [
  "PlanIngest",
  "IngestShard",
  "CompleteIngestion",
  "Silver",
  "SilverChecks",
  "Gold",
  "QualityChecks",
  "NotifyFailure",
] as const;
export type TimedState = (typeof TIMED_STATES)[number];

export interface TimeLimits {
  /** The execution's `TimeoutSeconds`: a backstop for a stuck engine, longer than the worst case. */
  executionSeconds: number;
  /** Each Task state's `TimeoutSeconds`: an attempt running longer fails with States.Timeout. */
  tasks: Record<TimedState, number>;
}

/**
 * What an incremental hour needs with room to spare (seconds, not minutes; a full year's rebuild is a
 * CLI job, not a workflow step), and an execution limit above {@link worstCaseSeconds} of these.
 */
export const DEFAULT_TIME_LIMITS: TimeLimits = {
  executionSeconds: 3600,
  tasks: {
    PlanIngest: 60,
    IngestShard: 300,
    CompleteIngestion: 60,
    Silver: 120,
    SilverChecks: 60,
    Gold: 120,
    QualityChecks: 60,
    NotifyFailure: 30,
  },
};

export class TimeLimitError extends Error {
  override name = "TimeLimitError";
}

interface AslState {
  Type?: string;
  TimeoutSeconds?: number;
  MaxConcurrency?: number;
  ItemProcessor?: { States: Record<string, AslState> };
  Retry?: {
    ErrorEquals: string[];
    MaxAttempts?: number;
    IntervalSeconds?: number;
    BackoffRate?: number;
    MaxDelaySeconds?: number;
  }[];
}
interface AslDefinition {
  TimeoutSeconds?: number;
  States: Record<string, AslState>;
}

const isPositiveInt = (n: unknown) => typeof n === "number" && Number.isInteger(n) && n > 0;

/**
 * Returns a copy of `definition` with the execution's and every Task state's `TimeoutSeconds` set from
 * `limits`. Throws {@link TimeLimitError} when a Task state has no limit (a new Task must get one) or a
 * limit is not a positive whole number of seconds (ASL requires an integer).
 */
export function applyTimeLimits<T extends object>(definition: T, limits: TimeLimits): T {
  const def = structuredClone(definition) as unknown as AslDefinition;
  const bad = Object.entries({ execution: limits.executionSeconds, ...limits.tasks }).filter(
    ([, v]) => !isPositiveInt(v),
  );
  if (bad.length > 0)
    throw new TimeLimitError(
      `Time limits must be positive whole seconds; fix ${bad.map(([k, v]) => `${k}=${v}`).join(", ")}`,
    );
  def.TimeoutSeconds = limits.executionSeconds;
  for (const [name, state] of allStates(def.States)) {
    if (state.Type !== "Task") continue;
    const limit = (limits.tasks as Record<string, number | undefined>)[name];
    if (limit === undefined)
      throw new TimeLimitError(
        `Task state ${name} has no time limit: add it to TIMED_STATES and DEFAULT_TIME_LIMITS (core/workflow/time-limits.ts)`,
      );
    state.TimeoutSeconds = limit;
  }
  return def as unknown as T;
}

/** Every state with its name, those inside Map states' ItemProcessor included. */
function allStates(states: Record<string, AslState>): [string, AslState][] {
  return Object.entries(states).flatMap(([name, state]): [string, AslState][] => [
    [name, state],
    ...(state.ItemProcessor ? allStates(state.ItemProcessor.States) : []),
  ]);
}

/**
 * Returns a copy of `definition` whose Map states run at most `concurrency` iterations at once (the
 * ingest shards in flight, INGEST_SHARD_CONCURRENCY / the stage's `ingest.shardConcurrency`).
 */
export function applyMapConcurrency<T extends object>(definition: T, concurrency: number): T {
  if (!isPositiveInt(concurrency))
    throw new TimeLimitError(`The shard concurrency must be a positive whole number, got ${concurrency}`);
  const def = structuredClone(definition) as unknown as AslDefinition;
  for (const [, state] of allStates(def.States)) if (state.Type === "Map") state.MaxConcurrency = concurrency;
  return def as unknown as T;
}

/**
 * Upper bound of an execution's duration when every attempt of every Task runs to its limit and every
 * retry waits its longest back-off. Each state runs at most once (the machine has no loops), so the sum
 * over Task states of (1 + retries) × limit + back-offs bounds any path, the failure path included.
 * A Map's iteration counts once: its waves (shards ÷ concurrency) depend on the sites file, and the
 * hourly ingest has to fit its hour anyway (bench:scale measures it).
 */
export function worstCaseSeconds(definition: object): number {
  const def = definition as AslDefinition;
  let total = 0;
  for (const [, state] of allStates(def.States)) {
    if (state.Type !== "Task") continue;
    const limit = state.TimeoutSeconds ?? 60;
    let attempts = 1;
    for (const r of state.Retry ?? []) {
      const max = r.MaxAttempts ?? 3;
      attempts += max;
      for (let k = 0; k < max; k++) {
        const wait = (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** k;
        total += Math.min(wait, r.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
      }
    }
    total += attempts * limit;
  }
  return Math.ceil(total);
}

/**
 * Why these limits would misbehave, as messages (empty when fine): an execution limit below the worst
 * case cuts an execution off before Catch can send the failure notification.
 */
export function timeLimitProblems(definition: object): string[] {
  const def = definition as AslDefinition;
  const worst = worstCaseSeconds(def);
  if (def.TimeoutSeconds !== undefined && def.TimeoutSeconds < worst)
    return [
      `the execution limit (${def.TimeoutSeconds} s) is below the worst case of its retries (${worst} s): a hung step would be cut off before the failure notification; raise the execution limit to at least ${worst} s or lower the task limits`,
    ];
  return [];
}

/** The embedded engine's limits, from the WORKFLOW_*_TIMEOUT_SECONDS settings. */
export function timeLimitsFromConfig(config: Config): TimeLimits {
  return {
    executionSeconds: config.WORKFLOW_TIMEOUT_SECONDS,
    tasks: {
      PlanIngest: config.WORKFLOW_PLAN_INGEST_TIMEOUT_SECONDS,
      IngestShard: config.WORKFLOW_INGEST_SHARD_TIMEOUT_SECONDS,
      CompleteIngestion: config.WORKFLOW_COMPLETE_INGESTION_TIMEOUT_SECONDS,
      Silver: config.WORKFLOW_SILVER_TIMEOUT_SECONDS,
      SilverChecks: config.WORKFLOW_SILVER_CHECKS_TIMEOUT_SECONDS,
      Gold: config.WORKFLOW_GOLD_TIMEOUT_SECONDS,
      QualityChecks: config.WORKFLOW_QUALITY_CHECKS_TIMEOUT_SECONDS,
      NotifyFailure: config.WORKFLOW_NOTIFY_TIMEOUT_SECONDS,
    },
  };
}

/** A task that outlives its time limit is cancelled this long before the Lambda itself would be killed. */
export const CANCEL_MARGIN_MS = 3000;

/**
 * A Lambda handler's own deadline: its remaining time less {@link CANCEL_MARGIN_MS}, so it can cancel
 * its SQL, roll back and report before the runtime freezes it (undefined: no context, no deadline).
 */
export function deadlineFromRemaining(remainingMs: number | undefined): number | undefined {
  if (remainingMs === undefined || !Number.isFinite(remainingMs)) return undefined;
  return Math.max(remainingMs - CANCEL_MARGIN_MS, 1000);
}

/**
 * Runs `work` with an AbortSignal that fires after `ms` (or when `parent` aborts) and rejects with
 * `timeoutError()` at that moment rather than waiting for work that may never end. The work sees the
 * signal and must stop itself (a transform cancels its SQL); until then it runs on in the background.
 */
export async function runWithTimeLimit<T>(
  opts: { ms: number | undefined; timeoutError: () => Error; parent?: AbortSignal },
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (opts.parent?.aborted) throw opts.parent.reason;
  const ac = new AbortController();
  const stopped = new Promise<never>((_, reject) => {
    ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true });
  });
  const onParent = () => ac.abort(opts.parent?.reason);
  opts.parent?.addEventListener("abort", onParent, { once: true });
  const timer = opts.ms === undefined ? undefined : setTimeout(() => ac.abort(opts.timeoutError()), opts.ms);
  try {
    return await Promise.race([work(ac.signal), stopped]);
  } finally {
    clearTimeout(timer);
    opts.parent?.removeEventListener("abort", onParent);
  }
}
