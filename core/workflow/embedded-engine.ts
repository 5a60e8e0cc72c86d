/**
 * Runs workflows/pipeline.asl.json in-process with aws-local-stepfunctions: the same definition AWS
 * and LocalStack run, its Task states mapped to the same task functions the Lambdas wrap.
 *
 * The ingest phase's Map is Distributed with an ItemReader in the file (AWS, LocalStack); this engine
 * has neither, so {@link inlineItemReaders} puts a `ReadManifest` Task before it that reads the manifest
 * from the raw store and hands each iteration a reference to its item (`{ manifestKey, shard }`), which
 * the shard task resolves (core/use-cases/shards.ts) — the engine keeps every state's input in its
 * event log, so 100,000 sites must not travel through it.
 *
 * Steps:
 * 1. Skip if an execution with this name (the interval) already succeeded — a duplicate trigger is a no-op.
 * 2. Record the execution as running (a lease renewed by heartbeat, so a killed process leaves a row
 *    that reads "abandoned"; a rerun of the interval takes the row over); run the ASL with local
 *    task handlers.
 * 3. Each Task attempt runs under its state's time limit (the library only races a timer, so the
 *    engine aborts the attempt itself: a transform's SQL is cancelled); every retry logs a warning.
 * 4. NotifyFailure records the notification in ops.notifications (SNS in the cloud). When the whole
 *    execution outlives its limit, no Catch runs (as in AWS, where an alarm tells): the engine records
 *    the notification itself.
 * 5. Record the outcome and the engine's event log (retried through a short database outage).
 *
 * The execution's row, its lease and the notifications go through the ops ledger port (OpsLedger,
 * core/ports.ts; on Postgres core/adapters/pg-ops-ledger.ts).
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "../config/env.ts";
import type { Interval } from "../domain/interval.ts";
import type { Log } from "../observability/logger.ts";
import type { OpsLedger } from "../ports.ts";
import { checkQualityTask, type TaskDeps, transformTask } from "./tasks.ts";
import {
  applyMapConcurrency,
  applyTimeLimits,
  DEFAULT_TIME_LIMITS,
  runWithTimeLimit,
  type TimeLimits,
  timeLimitProblems,
} from "./time-limits.ts";

// aws-local-stepfunctions calls Promise.withResolvers, which arrived in Node 22.
if (!("withResolvers" in Promise)) {
  Object.assign(Promise, {
    withResolvers<T>() {
      let resolve!: (v: T | PromiseLike<T>) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export const ASL_PATH = new URL("../../workflows/pipeline.asl.json", import.meta.url);

/** Placeholder values for the embedded run; the CDK stack substitutes real ARNs. */
export const LOCAL_SUBSTITUTIONS: Record<string, string> = {
  IngestFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:weather-ingest",
  TransformFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:weather-transform",
  CheckQualityFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:weather-check-quality",
  NotifyTopicArn: "arn:aws:sns:us-east-1:000000000000:weather-alarms",
};

/**
 * Reads the ASL file, fills `${Name}` placeholders (what CloudFormation's DefinitionSubstitutions do)
 * and sets the time limits and the Map's concurrency (what the CDK stack does with the stage's).
 */
export function loadDefinition(
  substitutions: Record<string, string> = LOCAL_SUBSTITUTIONS,
  limits: TimeLimits = DEFAULT_TIME_LIMITS,
  shardConcurrency = DEFAULT_SHARD_CONCURRENCY,
): Record<string, unknown> {
  const text = readFileSync(ASL_PATH, "utf8").replace(
    /\$\{(\w+)\}/g,
    (m, name: string) => substitutions[name] ?? m,
  );
  return applyMapConcurrency(
    applyTimeLimits(JSON.parse(text) as Record<string, unknown>, limits),
    shardConcurrency,
  );
}

/** The file's MaxConcurrency (INGEST_SHARD_CONCURRENCY's default). */
export const DEFAULT_SHARD_CONCURRENCY = 4;

/** The Task state this engine puts before a Map that has an ItemReader. */
export const READ_MANIFEST = "ReadManifest";

interface MapState {
  Type: string;
  ItemReader?: { Parameters?: Record<string, unknown> };
  ItemsPath?: string;
  ItemProcessor?: { ProcessorConfig?: Record<string, unknown> };
  Catch?: unknown;
  [k: string]: unknown;
}

/**
 * The definition as this engine can run it: each top-level Map with an ItemReader becomes an inline
 * Map over `$.manifestItems`, filled by a `ReadManifest` Task (the reader's Parameters, the Map's
 * Catch) that every transition to the Map now goes through.
 */
export function inlineItemReaders(definition: Record<string, unknown>): Record<string, unknown> {
  const def = structuredClone(definition) as { StartAt: string; States: Record<string, MapState> };
  for (const [name, state] of Object.entries(def.States)) {
    if (state.Type !== "Map" || !state.ItemReader) continue;
    if (def.StartAt === name) def.StartAt = READ_MANIFEST;
    for (const other of Object.values(def.States)) {
      if (other.Next === name) other.Next = READ_MANIFEST;
      if (other.Default === name) other.Default = READ_MANIFEST;
      for (const list of [other.Choices, other.Catch] as ({ Next?: unknown }[] | undefined)[])
        for (const c of list ?? []) if (c.Next === name) c.Next = READ_MANIFEST;
    }
    def.States[READ_MANIFEST] = {
      Type: "Task",
      Comment: `The embedded engine's ItemReader for ${name}`,
      Resource: "arn:aws:states:::s3:getObject",
      Parameters: state.ItemReader.Parameters,
      ResultPath: "$.manifestItems",
      Catch: state.Catch,
      Next: name,
    };
    delete state.ItemReader;
    state.ItemsPath = "$.manifestItems";
    if (state.ItemProcessor) state.ItemProcessor.ProcessorConfig = { Mode: "INLINE" };
  }
  return def as unknown as Record<string, unknown>;
}

/** What the engine tells a task besides its input. */
export interface TaskContext {
  /** Aborted when the attempt's time limit (or the execution's) passes: stop, cancel your SQL. */
  signal: AbortSignal;
  /** 0 on the first attempt, as `$$.State.RetryCount`. */
  retryCount: number;
}

/** A Task state's local handler; `ctx` is always passed by the engine (optional for direct calls). */
export type TaskFn = (input: unknown, ctx?: TaskContext) => Promise<unknown>;

/** The error AWS raises for a Task past its TimeoutSeconds; Retry and Catch match it by this name. */
export class StatesTimeoutError extends Error {
  override name = "States.Timeout";
}

export interface EngineTasks {
  /** Keyed by Task state name. The ingest phase's are optional: without them it fails with ConfigError. */
  PlanIngest?: TaskFn;
  /** The Map's items: `{ Bucket, Key }` of the manifest in, references to its items out. */
  ReadManifest?: TaskFn;
  IngestShard?: TaskFn;
  CompleteIngestion?: TaskFn;
  Silver: TaskFn;
  SilverChecks: TaskFn;
  Gold: TaskFn;
  QualityChecks: TaskFn;
}

/**
 * The task functions the Lambdas wrap, as the engine's handlers: each gets the attempt's abort signal,
 * so a timed-out transform has its SQL cancelled (on a Postgres server; PGlite cannot interrupt).
 * The ingest phase's are given by the caller (they need the runtime's raw store and provider).
 */
export function localTasks(
  deps: TaskDeps,
  ingest: Pick<EngineTasks, "PlanIngest" | "ReadManifest" | "IngestShard" | "CompleteIngestion"> = {},
): EngineTasks {
  return {
    ...ingest,
    Silver: (input, ctx) => transformTask(deps, input, { signal: ctx?.signal }),
    SilverChecks: (input, ctx) => checkQualityTask(deps, input, undefined, { signal: ctx?.signal }),
    Gold: (input, ctx) => transformTask(deps, input, { signal: ctx?.signal }),
    QualityChecks: (input, ctx) => checkQualityTask(deps, input, undefined, { signal: ctx?.signal }),
  };
}

export interface WorkflowResult {
  executionName: string;
  interval: Interval;
  status: "succeeded" | "failed" | "skipped";
  failedState: string | null;
  error: string | null;
  cause: string | null;
  retries: number;
  /** Retries per state (StateRetried events), e.g. `{ Silver: 1 }`. */
  retriesByState: Record<string, number>;
  output: unknown;
}

export interface EngineOptions {
  /** Milliseconds between retries (tests use 0; default follows the ASL's backoff). */
  retryIntervalMs?: number;
  /** Run even if an execution with this name already succeeded. */
  force?: boolean;
  /** Time limits (the CLI passes timeLimitsFromConfig); default the ASL's defaults. */
  timeLimits?: TimeLimits;
  /** Shards in flight at once (INGEST_SHARD_CONCURRENCY); default the file's. */
  shardConcurrency?: number;
}

interface Notification {
  failedState?: string;
  error?: string;
  cause?: string;
}

/** Executes the pipeline for one interval; see the module header for the steps. */
export async function runEmbeddedWorkflow(
  deps: { ledger: OpsLedger; log: Log; tasks: EngineTasks },
  args: { interval: Interval; executionName?: string; ingest?: boolean },
  opts: EngineOptions = {},
): Promise<WorkflowResult> {
  const { ledger, log } = deps;
  const executionName = args.executionName ?? args.interval;
  const base = { executionName, interval: args.interval };
  const prior = await ledger.executionStatus(executionName);
  if (prior === "succeeded" && !opts.force) {
    log.info("execution already succeeded; duplicate trigger ignored", { executionName });
    return {
      ...base,
      status: "skipped",
      failedState: null,
      error: null,
      cause: null,
      retries: 0,
      retriesByState: {},
      output: null,
    };
  }
  const { leaseRemainingMs } = await ledger.startExecution(executionName, args.interval);
  const heartbeat = ledger.keepExecutionLeased(executionName, leaseRemainingMs);

  const { StateMachine } = await import("aws-local-stepfunctions");
  const limits = opts.timeLimits ?? DEFAULT_TIME_LIMITS;
  const definition = inlineItemReaders(loadDefinition(LOCAL_SUBSTITUTIONS, limits, opts.shardConcurrency));
  for (const problem of timeLimitProblems(definition)) log.warn(`time limits: ${problem}`, { executionName });
  const machine = new StateMachine(definition as never);
  let notification: Notification | null = null;
  const noIngest =
    (state: string): TaskFn =>
    async () => {
      throw new ConfigError(
        `${state}: this engine was started without the ingest tasks (pass them to localTasks)`,
      );
    };
  const handlers: Record<string, TaskFn> = {
    PlanIngest: noIngest("PlanIngest"),
    ReadManifest: noIngest("ReadManifest"),
    IngestShard: noIngest("IngestShard"),
    CompleteIngestion: noIngest("CompleteIngestion"),
    ...(Object.fromEntries(Object.entries(deps.tasks).filter(([, fn]) => fn)) as Record<string, TaskFn>),
    // Receives the state's evaluated Parameters: { TopicArn, Subject, Message }, as SNS would.
    NotifyFailure: async (input) => {
      const publish = input as { Subject?: string; Message?: Notification };
      notification = publish.Message ?? null;
      await ledger.recordNotification({
        executionName,
        interval: args.interval,
        subject: publish.Subject ?? "",
        message: publish.Message ?? null,
      });
      log.error("workflow failed; notification recorded", { executionName, ...notification });
      return { MessageId: `local-${executionName}` };
    },
  };
  const retryIntervalOverrides =
    opts.retryIntervalMs === undefined
      ? undefined
      : Object.fromEntries(Object.keys(handlers).map((k) => [k, opts.retryIntervalMs as number]));

  // The library's context object has no State; `$$.State.RetryCount` reads this one, which the
  // attempts below keep current (one counter: the Map's shards share it, so a shard's retry notice may
  // show another shard's count; their attempts are counted apart below).
  const stateContext = { RetryCount: 0 };
  const executionAborted = new AbortController();
  let currentState: string | null = null;
  const timed = (state: string, fn: TaskFn): TaskFn => {
    // Attempts by input: the Map runs one state for many items at once.
    const attempts = new Map<string, number>();
    let lastError: Error | null = null;
    const limitSeconds = (limits.tasks as Record<string, number | undefined>)[state];
    return async (input) => {
      // After an execution timeout the library still walks its Retry loop: no phantom attempts.
      if (executionAborted.signal.aborted) throw executionAborted.signal.reason;
      // The same item's attempts differ only in the retry count the state machine passes.
      const key = JSON.stringify({ ...(input as object), retryCount: undefined });
      const retryCount = attempts.get(key) ?? 0;
      attempts.set(key, retryCount + 1);
      currentState = state;
      if (retryCount > 0)
        log.warn("step retried: an earlier attempt failed or timed out", {
          executionName,
          state,
          retryCount,
          error: lastError?.name,
          cause: lastError?.message,
          metric: "StepRetries",
        });
      try {
        const result = await runWithTimeLimit(
          {
            ms: limitSeconds === undefined ? undefined : limitSeconds * 1000,
            parent: executionAborted.signal,
            timeoutError: () =>
              new StatesTimeoutError(
                `${state} did not finish within its ${limitSeconds} s time limit (attempt ${retryCount + 1}); it was cancelled`,
              ),
          },
          (signal) => fn(input, { signal, retryCount }),
        );
        stateContext.RetryCount = 0;
        return result;
      } catch (e) {
        lastError = e as Error;
        stateContext.RetryCount = retryCount + 1;
        throw e;
      }
    };
  };
  const timedHandlers = Object.fromEntries(Object.entries(handlers).map(([k, fn]) => [k, timed(k, fn)]));
  const execution = machine.run(
    args.ingest ? { interval: args.interval, ingest: true } : { interval: args.interval },
    {
      overrides: { taskResourceLocalHandlers: timedHandlers as never, retryIntervalOverrides },
      context: { State: stateContext },
    },
  );

  const events: { type?: string }[] = [];
  const collecting = (async () => {
    for await (const ev of execution.eventLogs) events.push(ev as { type?: string });
  })();
  let status: "succeeded" | "failed" = "succeeded";
  let output: unknown = null;
  let error: string | null = null;
  let cause: string | null = null;
  let executionTimedOut = false;
  let timedOutIn: string | null = null;
  try {
    output = await execution.result;
  } catch (e) {
    status = "failed";
    error = (e as Error).name;
    cause = (e as Error).message;
    if (error === "ExecutionTimeoutError") {
      executionTimedOut = true;
      // The library stops its loop but not the running task: abort it (and any retry it would start).
      timedOutIn = currentState;
      error = "States.Timeout";
      cause = `The execution did not finish within its ${limits.executionSeconds} s time limit; it was stopped in ${timedOutIn ?? "?"}`;
      executionAborted.abort(new StatesTimeoutError(cause));
    }
  }
  await collecting;
  if (executionTimedOut) {
    // AWS: no Catch runs after an execution timeout; the PipelineTimedOut alarm tells the team.
    if (notification === null) {
      notification = {
        failedState: timedOutIn ?? undefined,
        error: error ?? undefined,
        cause: cause ?? undefined,
      };
      await ledger.recordNotification({
        executionName,
        interval: args.interval,
        subject: "weather-dataops workflow timed out",
        message: { interval: args.interval, ...(notification as Notification) },
      });
      log.error("workflow timed out; notification recorded", {
        executionName,
        ...(notification as Notification),
      });
    }
  }
  const retried = events.filter((e) => e.type === "StateRetried") as { state?: { name?: string } }[];
  const retries = retried.length;
  const retriesByState: Record<string, number> = {};
  for (const e of retried) {
    const name = e.state?.name ?? "?";
    retriesByState[name] = (retriesByState[name] ?? 0) + 1;
  }
  const sent = notification as Notification | null;
  const failedState = sent?.failedState ?? null;
  error = sent?.error ?? error;
  cause = sent?.cause ?? cause;
  try {
    await ledger.finishExecution(executionName, {
      status,
      failedState,
      error,
      cause,
      events,
    });
  } finally {
    await heartbeat.stop();
  }
  log.info("workflow finished", { executionName, status, retries, retriesByState });
  return { ...base, status, failedState, error, cause, retries, retriesByState, output };
}
