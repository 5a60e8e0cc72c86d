/**
 * What `weather invoke` needs to run a handler as Lambda would: each function's memory and timeout as
 * deployed, a Lambda-like context, the function's environment, and the runtime's time-out.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import type pg from "pg";
import { Pool } from "#core/adapters/database.ts";
import type { Config } from "#core/config/env.ts";
import type { TimeLimits } from "#core/workflow/time-limits.ts";

export const FUNCTION_NAMES = ["ingest", "transform", "check-quality", "heal"] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export interface FunctionSpec {
  memoryMb: number;
  timeoutSeconds: number;
}

/**
 * Memory and timeout of each function as the stacks deploy it (stacks/constructs/stateless.ts,
 * FUNCTIONS and functionTimeout: the workflow functions' timeouts follow the Task states' time
 * limits, here the runtime's WORKFLOW_*_TIMEOUT_SECONDS). Not imported from there: aws-cdk-lib is a
 * dev dependency the CLI's image does not have. tests/unit/invoke-lambda.test.ts keeps them equal.
 */
export function functionSpec(name: FunctionName, limits: TimeLimits): FunctionSpec {
  const t = limits.tasks;
  switch (name) {
    case "ingest":
      return { memoryMb: 512, timeoutSeconds: 300 };
    case "transform":
      return { memoryMb: 512, timeoutSeconds: Math.max(t.Silver, t.Gold) };
    case "check-quality":
      return { memoryMb: 256, timeoutSeconds: Math.max(t.SilverChecks, t.QualityChecks) };
    case "heal":
      return { memoryMb: 512, timeoutSeconds: 600 };
  }
}

/** A fake account id, as LocalStack uses: nothing here is sent to AWS under it. */
const ACCOUNT = "000000000000";

/**
 * A Lambda context for one invocation starting now: names, ARN, log group and stream as Lambda forms
 * them, a fresh request id, and `getRemainingTimeInMillis` counting down from the function's timeout
 * (the workflow handlers derive their own deadline from it).
 */
export function lambdaContext(
  name: FunctionName,
  spec: FunctionSpec,
  region: string,
  now: () => number = Date.now,
): Context {
  const functionName = `weather-dataops-${name}`;
  const deadline = now() + spec.timeoutSeconds * 1000;
  const day = new Date(now()).toISOString().slice(0, 10).replaceAll("-", "/");
  const unsupported = () => {
    throw new Error("weather invoke: the callback-style context methods are not supported; return a promise");
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: String(spec.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString("hex")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/**
 * The function's environment: every setting the CLI resolved (flags over the environment, defaults
 * filled in), as strings. The handlers read their configuration only through core/config/env.ts,
 * once, when their module loads — so this is set before the module is imported.
 */
export function functionEnvironment(
  config: Config,
  extra: Record<string, string | undefined> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...config, ...extra }))
    if (value !== undefined && value !== "") env[key] = String(value);
  return env;
}

/**
 * The variables Lambda itself sets for the function that the libraries read: Powertools' cold-start
 * flag needs AWS_LAMBDA_INITIALIZATION_TYPE (unset, every invocation would say `cold_start: false`).
 * AWS_EXECUTION_ENV is left out on purpose: the AWS SDK would take this for Lambda and change defaults.
 */
export function lambdaEnvironment(context: Context): Record<string, string> {
  return {
    AWS_LAMBDA_FUNCTION_NAME: context.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: context.functionVersion,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: context.memoryLimitInMB,
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_LAMBDA_LOG_GROUP_NAME: context.logGroupName,
    AWS_LAMBDA_LOG_STREAM_NAME: context.logStreamName,
  };
}

/**
 * Records every pool (of core/adapters/database.ts) used while it is on. A handler keeps its pools
 * for the life of its container; `weather invoke` is one invocation, so it ends them afterwards —
 * before the embedded database stops under them (which they would log as lost connections) and so
 * that an open idle connection does not hold the process for pg's idle timeout.
 */
export function trackPools(): { end(except: pg.Pool): Promise<void>; stop(): void } {
  const pools = new Set<pg.Pool>();
  const connect = Pool.prototype.connect;
  Pool.prototype.connect = function (this: pg.Pool, ...args: unknown[]) {
    pools.add(this);
    return (connect as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof connect;
  return {
    end: async (except) => {
      await Promise.all([...pools].filter((p) => p !== except && !p.ended).map((p) => p.end()));
    },
    stop: () => {
      Pool.prototype.connect = connect;
    },
  };
}

/** What Lambda reports when a function outlives its timeout. */
export class InvocationTimeoutError extends Error {
  override name = "InvocationTimeoutError";
  constructor(seconds: number) {
    super(
      `Task timed out after ${seconds.toFixed(2)} seconds (the function's timeout; WORKFLOW_*_TIMEOUT_SECONDS ` +
        "sets the workflow functions')",
    );
  }
}

/** Settles with `work`, or rejects with {@link InvocationTimeoutError} when the timeout passes first. */
export async function withinTimeout<T>(work: Promise<T>, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeoutError(seconds)), seconds * 1000);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The event EventBridge sends for the hourly schedule (the `aws.events` Scheduled Event). */
export function scheduledEvent(time: Date, region: string): Record<string, unknown> {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: ACCOUNT,
    time: `${time.toISOString().slice(0, 19)}Z`,
    region,
    resources: [`arn:aws:events:${region}:${ACCOUNT}:rule/weather-dataops-schedule`],
    detail: {},
  };
}
