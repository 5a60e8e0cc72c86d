/**
 * Runs workflows/pipeline.asl.json in-process with aws-local-stepfunctions: the same definition AWS
 * and LocalStack run, its Task states mapped to the same task functions the Lambdas wrap.
 *
 * Steps:
 * 1. Skip if an execution with this name (the interval) already succeeded — a duplicate trigger is a no-op.
 * 2. Record the execution as running (a lease renewed by heartbeat, so a killed process leaves a row
 *    that reads "abandoned"; a rerun of the interval takes the row over); run the ASL with local
 *    task handlers.
 * 3. NotifyFailure records the notification in ops.notifications (SNS in the cloud).
 * 4. Record the outcome and the engine's event log (retried through a short database outage).
 */
import { readFileSync } from "node:fs";
import type pg from "pg";
import { retryWhileUnavailable } from "../db/errors.ts";
import { LEASE_REMAINING_MS, RUN_LEASE_EXPIRY, startHeartbeat } from "../db/leases.ts";
import type { Interval } from "../domain/interval.ts";
import type { Log } from "../observability/logger.ts";

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
  TransformFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:weather-transform",
  CheckQualityFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:weather-check-quality",
  NotifyTopicArn: "arn:aws:sns:us-east-1:000000000000:weather-alarms",
};

/** Reads the ASL file and fills `${Name}` placeholders (what CloudFormation's DefinitionSubstitutions do). */
export function loadDefinition(
  substitutions: Record<string, string> = LOCAL_SUBSTITUTIONS,
): Record<string, unknown> {
  const text = readFileSync(ASL_PATH, "utf8").replace(
    /\$\{(\w+)\}/g,
    (m, name: string) => substitutions[name] ?? m,
  );
  return JSON.parse(text) as Record<string, unknown>;
}

export type TaskFn = (input: unknown) => Promise<unknown>;

export interface EngineTasks {
  /** Keyed by Task state name. */
  Silver: TaskFn;
  Gold: TaskFn;
  QualityChecks: TaskFn;
}

export interface WorkflowResult {
  executionName: string;
  interval: Interval;
  status: "succeeded" | "failed" | "skipped";
  failedState: string | null;
  error: string | null;
  cause: string | null;
  retries: number;
  output: unknown;
}

export interface EngineOptions {
  /** Milliseconds between retries (tests use 0; default follows the ASL's backoff). */
  retryIntervalMs?: number;
  /** Run even if an execution with this name already succeeded. */
  force?: boolean;
}

interface Notification {
  failedState?: string;
  error?: string;
  cause?: string;
}

/** Executes the pipeline for one interval; see the module header for the steps. */
export async function runEmbeddedWorkflow(
  deps: { pool: pg.Pool; log: Log; tasks: EngineTasks },
  args: { interval: Interval; executionName?: string },
  opts: EngineOptions = {},
): Promise<WorkflowResult> {
  const { pool, log } = deps;
  const executionName = args.executionName ?? args.interval;
  const base = { executionName, interval: args.interval };
  const prior = await pool.query<{ status: string }>(
    "select status from ops.workflow_executions where execution_name = $1",
    [executionName],
  );
  if (prior.rows[0]?.status === "succeeded" && !opts.force) {
    log.info("execution already succeeded; duplicate trigger ignored", { executionName });
    return {
      ...base,
      status: "skipped",
      failedState: null,
      error: null,
      cause: null,
      retries: 0,
      output: null,
    };
  }
  const started = await pool.query<{ remaining: number }>(
    `insert into ops.workflow_executions as w (execution_name, interval, status, started_at, lease_expires_at)
     values ($1, $2, 'running', now(), ${RUN_LEASE_EXPIRY})
     on conflict (execution_name) do update set status = 'running', attempt = w.attempt + 1,
       started_at = now(), finished_at = null, failed_state = null, error = null, cause = null, events = '[]',
       lease_expires_at = excluded.lease_expires_at
     returning ${LEASE_REMAINING_MS("w")} as remaining`,
    [executionName, args.interval],
  );
  const heartbeat = startHeartbeat(
    pool,
    { table: "ops.workflow_executions", keyColumn: "execution_name", key: executionName },
    started.rows[0]?.remaining ?? 0,
    log,
  );

  const { StateMachine } = await import("aws-local-stepfunctions");
  const machine = new StateMachine(loadDefinition() as never);
  let notification: Notification | null = null;
  const handlers: Record<string, TaskFn> = {
    ...deps.tasks,
    // Receives the state's evaluated Parameters: { TopicArn, Subject, Message }, as SNS would.
    NotifyFailure: async (input) => {
      const publish = input as { Subject?: string; Message?: Notification };
      notification = publish.Message ?? null;
      await pool.query(
        "insert into ops.notifications (execution_name, interval, subject, message) values ($1, $2, $3, $4)",
        [executionName, args.interval, publish.Subject ?? "", JSON.stringify(publish.Message ?? null)],
      );
      log.error("workflow failed; notification recorded", { executionName, ...notification });
      return { MessageId: `local-${executionName}` };
    },
  };
  const retryIntervalOverrides =
    opts.retryIntervalMs === undefined
      ? undefined
      : Object.fromEntries(Object.keys(handlers).map((k) => [k, opts.retryIntervalMs as number]));
  const execution = machine.run(
    { interval: args.interval },
    {
      overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
    },
  );

  const events: { type?: string }[] = [];
  const collecting = (async () => {
    for await (const ev of execution.eventLogs) events.push(ev as { type?: string });
  })();
  let status: WorkflowResult["status"] = "succeeded";
  let output: unknown = null;
  let error: string | null = null;
  let cause: string | null = null;
  try {
    output = await execution.result;
  } catch (e) {
    status = "failed";
    error = (e as Error).name;
    cause = (e as Error).message;
  }
  await collecting;
  const retries = events.filter((e) => e.type === "StateRetried").length;
  const sent = notification as Notification | null;
  const failedState = sent?.failedState ?? null;
  error = sent?.error ?? error;
  cause = sent?.cause ?? cause;
  try {
    await retryWhileUnavailable(() =>
      pool.query(
        `update ops.workflow_executions set status = $2, finished_at = now(), failed_state = $3, error = $4,
           cause = $5, events = $6 where execution_name = $1`,
        [executionName, status, failedState, error, cause, JSON.stringify(events)],
      ),
    );
  } finally {
    await heartbeat.stop();
  }
  log.info("workflow finished", { executionName, status, retries });
  return { ...base, status, failedState, error, cause, retries, output };
}
