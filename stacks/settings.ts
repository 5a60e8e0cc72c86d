/**
 * Every stage-dependent knob of the cloud stacks, typed in one place. Stacks and constructs take a
 * {@link StageSettings}; nothing else in `stacks/` branches on the stage name.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { HEAL_DAYS } from "../core/use-cases/heal.ts";
import { DEFAULT_TIME_LIMITS, type TimeLimits } from "../core/workflow/time-limits.ts";

export const KNOWN_STAGES = ["prod", "dev", "local"] as const;
export type KnownStage = (typeof KNOWN_STAGES)[number];

export interface AlarmSettings {
  /** Evaluation period of the error/threshold alarms. */
  period: Duration;
  /**
   * The no-data alarm fires when ObservationsLoaded stays absent (or 0) for `noDataPeriods` periods
   * of `noDataPeriod` each: 2 x 1 h in the cloud.
   */
  noDataPeriod: Duration;
  noDataPeriods: number;
  /** SiteFailureRatio above this (0..1) alarms; matches the CLI's SITE_FAILURE_THRESHOLD. */
  siteFailureRatio: number;
  /** Average FetchLatencyMs above this alarms. */
  fetchLatencyMs: number;
  /**
   * StepRetries (summed over `stepRetriesPeriod`) at or above this alarms: one retry an hour is the
   * workflow healing itself; several mean a step keeps failing or nearing its time limit.
   */
  stepRetries: number;
  stepRetriesPeriod: Duration;
  /**
   * Period of the gaps-remaining alarm (GapsRemaining > 0, Maximum): the heal's own cadence, so a
   * heal that left gaps keeps the alarm in ALARM until the next heal's datapoint replaces it.
   */
  gapsRemainingPeriod: Duration;
}

/** The daily gap heal (core/use-cases/heal.ts): when it runs and how far back it looks. */
export interface HealSettings {
  /** EventBridge schedule expression of the heal rule. */
  schedule: string;
  /** Days of complete hours the heal checks and refills (the rule's `{ "days": N }` input). */
  days: number;
}

/** The workflow's ingest phase (core/use-cases/shards.ts). */
export interface IngestSettings {
  /** Sites per shard (INGEST_SHARD_SIZE of the ingest function). */
  shardSize: number;
  /** Shards in flight at once: the Map's MaxConcurrency and each shard's 1/N share of the limits. */
  shardConcurrency: number;
}

export interface StageSettings {
  stage: string;
  /** EventBridge schedule expression that starts the workflow (ingest in shards, then transforms). */
  schedule: string;
  ingest: IngestSettings;
  /**
   * Prefix of the pipeline's execution names (`<prefix>2026-11-22T13`); empty outside tests. The
   * LocalStack suite deploys the same stage once per test file, and LocalStack keeps the executions
   * of a redeployed state machine, so a second deploy would find the hour's name taken.
   */
  executionNamePrefix: string;
  heal: HealSettings;
  logRetention: RetentionDays;
  /** Removal policy of stateful resources (bucket, secrets, topic, database). */
  statefulRemovalPolicy: RemovalPolicy;
  /** Raw objects move to Glacier Instant Retrieval after this many days. */
  rawColdAfterDays: number;
  /** Old versions of raw objects are deleted after this many days. */
  rawNoncurrentExpiryDays: number;
  alarms: AlarmSettings;
  /**
   * The pipeline's time limits: each Task state's TimeoutSeconds and the execution's. The functions'
   * timeouts follow (Transform: the larger of Silver and Gold), because Step Functions does not stop
   * a Lambda whose Task timed out: a longer Lambda timeout would let a zombie hold the layer's lock
   * while the retry waits for it.
   */
  timeLimits: TimeLimits;
  /** Optional RDS Postgres (VPC + NAT + db.t4g.micro); off means an external Postgres by secret. */
  rds: boolean;
  /** Powertools `service` dimension; stage-qualified so two stages in one account never share metrics. */
  serviceName: string;
  /** CloudWatch namespace the functions publish EMF metrics to. */
  metricsNamespace: string;
  weatherSource: "open-meteo" | "openweather" | "simulator";
  /** LocalStack only: every AWS client in the functions targets this endpoint. */
  awsEndpointUrl?: string;
  /** Default for the stateful stack's `AlarmEmail` parameter; empty = no email subscription. */
  alarmEmail: string;
  /**
   * Extra variables for every function, e.g. `OPEN_METEO_BASE_URL` of the local weather simulator
   * (`-c functionEnv='{"OPEN_METEO_BASE_URL":"http://127.0.0.1:8787"}'`). Validated by the env gate.
   */
  functionEnv?: Record<string, string>;
}

const HOURLY = "cron(5 * * * ? *)";
// Daily at 03:35 UTC: off the hourly ingest's minute 5, and after midnight UTC so a whole day of
// hours has passed; the local stage too (the LocalStack suite overrides it with `-c healSchedule`).
const DAILY_HEAL: HealSettings = { schedule: "cron(35 3 * * ? *)", days: HEAL_DAYS.default };
const METRICS_NAMESPACE = "WeatherDataOps";

const base = (stage: string) => ({
  stage,
  serviceName: `weather-dataops-${stage}`,
  metricsNamespace: METRICS_NAMESPACE,
  weatherSource: "open-meteo" as const,
  rds: false,
  alarmEmail: "",
  timeLimits: DEFAULT_TIME_LIMITS,
  ingest: { shardSize: 1000, shardConcurrency: 4 },
  executionNamePrefix: "",
});

const PRESETS: Record<
  KnownStage,
  Omit<
    StageSettings,
    "stage" | "serviceName" | "metricsNamespace" | "timeLimits" | "ingest" | "executionNamePrefix"
  >
> = {
  prod: {
    schedule: HOURLY,
    heal: DAILY_HEAL,
    logRetention: RetentionDays.THREE_MONTHS,
    statefulRemovalPolicy: RemovalPolicy.RETAIN,
    rawColdAfterDays: 90,
    rawNoncurrentExpiryDays: 30,
    alarms: {
      period: Duration.minutes(5),
      noDataPeriod: Duration.hours(1),
      noDataPeriods: 2,
      siteFailureRatio: 0.1,
      fetchLatencyMs: 30_000,
      stepRetries: 3,
      stepRetriesPeriod: Duration.hours(1),
      gapsRemainingPeriod: Duration.days(1),
    },
    rds: false,
    weatherSource: "open-meteo",
    alarmEmail: "",
  },
  dev: {
    schedule: HOURLY,
    heal: DAILY_HEAL,
    logRetention: RetentionDays.TWO_WEEKS,
    // Dev data is disposable, but a non-empty bucket cannot be deleted without a custom resource
    // (autoDeleteObjects), which this project avoids; so dev also retains.
    statefulRemovalPolicy: RemovalPolicy.RETAIN,
    rawColdAfterDays: 30,
    rawNoncurrentExpiryDays: 7,
    alarms: {
      period: Duration.minutes(5),
      noDataPeriod: Duration.hours(1),
      noDataPeriods: 2,
      siteFailureRatio: 0.1,
      fetchLatencyMs: 30_000,
      stepRetries: 3,
      stepRetriesPeriod: Duration.hours(1),
      gapsRemainingPeriod: Duration.days(1),
    },
    rds: false,
    weatherSource: "open-meteo",
    alarmEmail: "",
  },
  local: {
    // LocalStack fires `rate(1 minute)` rules about once a minute; alarms evaluate on 1-minute periods.
    schedule: "rate(1 minute)",
    heal: DAILY_HEAL,
    logRetention: RetentionDays.ONE_DAY,
    // LocalStack's bucket provider empties buckets on delete, so local can be torn down cleanly.
    statefulRemovalPolicy: RemovalPolicy.DESTROY,
    rawColdAfterDays: 30,
    rawNoncurrentExpiryDays: 1,
    alarms: {
      period: Duration.minutes(1),
      noDataPeriod: Duration.minutes(1),
      noDataPeriods: 3,
      siteFailureRatio: 0.1,
      fetchLatencyMs: 30_000,
      stepRetries: 3,
      stepRetriesPeriod: Duration.minutes(1),
      gapsRemainingPeriod: Duration.minutes(1),
    },
    rds: false,
    weatherSource: "simulator",
    awsEndpointUrl: "http://127.0.0.1:4566",
    alarmEmail: "",
  },
};

export class UnknownStageError extends Error {
  override name = "UnknownStageError";
}

/** True for the stages with their own preset; personal SST stages (e.g. `alice`) use `dev`'s. */
export function isKnownStage(stage: string): stage is KnownStage {
  return (KNOWN_STAGES as readonly string[]).includes(stage);
}

/**
 * The settings for a stage. Unknown stage names (SST personal stages) get the `dev` preset under
 * their own name; `overrides` lets an entry point flip flags such as `rds` or set `alarmEmail`.
 */
export function settingsFor(stage: string, overrides: Partial<StageSettings> = {}): StageSettings {
  if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(stage)) {
    throw new UnknownStageError(
      `Invalid stage "${stage}": use letters, digits and hyphens, starting with a letter (e.g. prod, dev, local)`,
    );
  }
  const preset = PRESETS[isKnownStage(stage) ? stage : "dev"];
  // The local stage's 22 sites in shards of 5: several shard invocations for one hour, two at a time.
  const ingest = stage === "local" ? { shardSize: 5, shardConcurrency: 2 } : base(stage).ingest;
  return { ...base(stage), ingest, ...preset, ...overrides, stage };
}

/**
 * The optional knobs below, as `sst.config.ts` takes them from the environment into CDK context:
 *   WEATHER_RDS=true            create the RDS Postgres
 *   ALARM_EMAIL=a@b.c           subscribe an address to the alarm topic
 *   WEATHER_FUNCTION_ENV='{..}' extra variables for every function (the local cloud: simulator URLs)
 *   WEATHER_NO_DATA_PERIODS=1   no-data alarm periods (LocalStack's evaluator looks back further)
 *   WEATHER_HEAL_SCHEDULE / WEATHER_HEAL_DAYS  the daily heal's rule (the LocalStack suite's: every minute)
 *   WEATHER_EXECUTION_NAME_PREFIX  execution names apart per deploy (the LocalStack suite's files)
 */
export const CONTEXT_FROM_ENV = {
  rds: "WEATHER_RDS",
  alarmEmail: "ALARM_EMAIL",
  functionEnv: "WEATHER_FUNCTION_ENV",
  noDataPeriods: "WEATHER_NO_DATA_PERIODS",
  healSchedule: "WEATHER_HEAL_SCHEDULE",
  healDays: "WEATHER_HEAL_DAYS",
  executionNamePrefix: "WEATHER_EXECUTION_NAME_PREFIX",
} as const;

/**
 * Reads the optional knobs ({@link CONTEXT_FROM_ENV}) from CDK context. The heal knobs exist for the
 * LocalStack suite, which must see the daily heal fire within minutes.
 */
export function settingsFromContext(
  stage: string,
  node: { tryGetContext(key: string): unknown },
  overrides: Partial<StageSettings> = {},
): StageSettings {
  const rds = node.tryGetContext("rds");
  const alarmEmail = node.tryGetContext("alarmEmail");
  const functionEnv = node.tryGetContext("functionEnv");
  const noDataPeriods = node.tryGetContext("noDataPeriods");
  const healSchedule = node.tryGetContext("healSchedule");
  const healDays = node.tryGetContext("healDays");
  const executionNamePrefix = node.tryGetContext("executionNamePrefix");
  const settings = settingsFor(stage, {
    ...(rds !== undefined ? { rds: String(rds) === "true" } : {}),
    ...(typeof alarmEmail === "string" ? { alarmEmail } : {}),
    ...(functionEnv !== undefined ? { functionEnv: parseFunctionEnv(functionEnv) } : {}),
    ...overrides,
  });
  // LocalStack's alarm evaluator looks back N + 2 periods and runs every N periods, so 3 x 1 min fires
  // 5-8 minutes after ingestion stops; `-c noDataPeriods=1` shortens that to 3-4 minutes.
  if (noDataPeriods !== undefined) {
    const n = Number(noDataPeriods);
    if (!Number.isInteger(n) || n < 1)
      throw new UnknownStageError(
        `noDataPeriods must be a positive integer, got ${JSON.stringify(noDataPeriods)}`,
      );
    settings.alarms = { ...settings.alarms, noDataPeriods: n };
  }
  if (healSchedule !== undefined) {
    if (typeof healSchedule !== "string" || !/^(rate|cron)\(.+\)$/.test(healSchedule))
      throw new UnknownStageError(
        `healSchedule must be an EventBridge schedule expression such as "rate(1 minute)" or "cron(35 3 * * ? *)", got ${JSON.stringify(healSchedule)}`,
      );
    settings.heal = { ...settings.heal, schedule: healSchedule };
  }
  if (executionNamePrefix !== undefined) {
    // Execution names: 1-80 of letters, digits, - and _; the interval takes 13.
    if (typeof executionNamePrefix !== "string" || !/^[A-Za-z0-9_-]{1,40}$/.test(executionNamePrefix))
      throw new UnknownStageError(
        `executionNamePrefix must be 1-40 letters, digits, - or _, got ${JSON.stringify(executionNamePrefix)}`,
      );
    settings.executionNamePrefix = executionNamePrefix;
  }
  if (healDays !== undefined) {
    const n = Number(healDays);
    if (!Number.isInteger(n) || n < HEAL_DAYS.min || n > HEAL_DAYS.max)
      throw new UnknownStageError(
        `healDays must be a whole number from ${HEAL_DAYS.min} to ${HEAL_DAYS.max}, got ${JSON.stringify(healDays)}`,
      );
    settings.heal = { ...settings.heal, days: n };
  }
  return settings;
}

/** `functionEnv` context: a JSON object of strings (the CLI passes `-c` values as strings). */
function parseFunctionEnv(value: unknown): Record<string, string> {
  const parsed = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  const ok =
    parsed !== null &&
    typeof parsed === "object" &&
    !Array.isArray(parsed) &&
    Object.values(parsed).every((v) => typeof v === "string");
  if (!ok)
    throw new UnknownStageError(`functionEnv must be a JSON object of strings, got ${JSON.stringify(value)}`);
  return parsed as Record<string, string>;
}
