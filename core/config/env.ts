/**
 * The one environment gate. Nothing outside `core/config` reads `process.env`: every entry point
 * calls {@link loadConfig} once and passes the typed result down.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { en } from "zod/locales";
import * as z from "zod/mini";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

export class ConfigError extends Error {
  override name = "ConfigError";
}

const positiveInt = z.coerce.number().check(z.int(), z.positive());
const nonNegativeInt = z.coerce.number().check(z.int(), z.gte(0));
const positiveNumber = z.coerce.number().check(z.positive());
const ratio = z.coerce.number().check(z.gte(0), z.lte(1));

export const SOURCES = ["open-meteo", "openweather", "simulator"] as const;
export type SourceName = (typeof SOURCES)[number];

/**
 * HTTP_MAX_BODY_BYTES's default, 4 MiB: a 50-location Open-Meteo answer measures about 36 KB (the
 * simulator, whose bodies match the API's shape), an OpenWeatherMap one about 0.5 KB, so this leaves
 * room for 100× the default batch and for batch sizes in the thousands.
 */
export const DEFAULT_HTTP_MAX_BODY_BYTES = 4 * 1024 * 1024;

export const envSchema = z.object({
  /** Postgres connection string; unset means the embedded PGlite under WEATHER_HOME/pg. */
  DATABASE_URL: z.optional(z.string().check(z.url())),
  /**
   * `weather migrate` only: a JSON object of database role → password, e.g.
   * `{"weather_ingest":"…","weather_heal":"…"}`; each role named may then log in with it
   * (core/db/roles.ts). Never committed: a deployment generates them.
   */
  DATABASE_ROLE_PASSWORDS: z.optional(z.string().check(z.minLength(2))),
  /** AWS Secrets Manager secret holding `{ "url": "postgres://..." }` (cloud runtimes). */
  DATABASE_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  /** How long opening a connection may take before the attempt fails (startup probe: exit 2). */
  DB_CONNECT_TIMEOUT_MS: z._default(positiveInt, 10_000),
  /**
   * Every session's `statement_timeout`: a runaway statement fails instead of holding locks. Ten
   * minutes: the longest single statement is a full rebuild's insert (≈1 min for a year × 1,000
   * sites); raise it for bigger histories. 0 disables. Migrations run without it.
   */
  DB_STATEMENT_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.gte(0)), 600_000),
  /**
   * Every session's `lock_timeout`: a stuck lock (including a layer's advisory lock held by a long
   * rebuild) surfaces as SQLSTATE 55P03 and the step is retried. 0 disables.
   */
  DB_LOCK_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.gte(0)), 60_000),
  /**
   * Lease of ingestion runs and workflow executions, renewed by a heartbeat every third of it: a
   * `running` row whose lease expired belongs to a process that died, and shows as `abandoned`.
   */
  DB_RUN_LEASE_MS: z._default(positiveInt, 120_000),
  /**
   * Lease of transform and quality-check runs. They work inside one transaction and cannot renew
   * it, so it is their time limit: past it a `running` row shows as `abandoned`.
   */
  DB_TASK_LEASE_MS: z._default(positiveInt, 900_000),
  /** Where the embedded default keeps its state (raw objects, PGlite data). */
  WEATHER_HOME: z._default(z.string().check(z.minLength(1)), ".weather"),
  /**
   * How long a command waits for another process using the same embedded database (WEATHER_HOME/pg)
   * before giving up with exit 1. PGlite allows one writer per directory; 0 means do not wait.
   */
  WEATHER_LOCK_WAIT_MS: z._default(nonNegativeInt, 300_000),
  /**
   * The machine's cache (default ~/.cache/weather-dataops): the embedded default's start template
   * (pglite-*.tar, built by `npm ci`), and the scripts' Node 24 and Python venvs. `off`: no template.
   */
  WEATHER_CACHE_DIR: z.optional(z.string().check(z.minLength(1))),
  /** A directory or `s3://bucket[/prefix]`; defaults to WEATHER_HOME/raw. */
  RAW_STORE: z.optional(z.string().check(z.minLength(1))),
  WEATHER_SOURCE: z._default(z.enum(SOURCES), "open-meteo"),
  SITES_FILE: z._default(z.string().check(z.minLength(1)), "config/sites.json"),
  OPEN_METEO_BASE_URL: z._default(z.string().check(z.url()), "https://api.open-meteo.com"),
  /**
   * Open-Meteo's Historical Weather API (`/v1/archive`): history older than the forecast API's 92
   * past days. The simulator source uses SIMULATOR_URL for both.
   */
  OPEN_METEO_ARCHIVE_URL: z._default(z.string().check(z.url()), "https://archive-api.open-meteo.com"),
  OPENWEATHER_BASE_URL: z._default(z.string().check(z.url()), "https://api.openweathermap.org"),
  /**
   * The bundled API simulator, for WEATHER_SOURCE=simulator (the CLI starts its own; the local cloud
   * runs one). Its data is labelled `simulator` everywhere, never `open-meteo`.
   */
  SIMULATOR_URL: z.optional(z.string().check(z.url())),
  /** Local runtimes take the key from here; the cloud reads OPENWEATHER_SECRET_ARN instead. */
  OPENWEATHER_API_KEY: z.optional(z.string().check(z.minLength(1))),
  OPENWEATHER_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  /** Open-Meteo's free API serves about one request at a time per IP: batch, don't fan out. */
  OPEN_METEO_BATCH_SIZE: z._default(positiveInt, 50),
  OPEN_METEO_CONCURRENCY: z._default(positiveInt, 1),
  /**
   * Open-Meteo's quotas in weighted calls (a request weighs max(variables/10, 1) × max(days/14, 1) ×
   * locations; providers/limits.ts), counted over sliding windows. Defaults: the free tier, 600 a
   * minute, 5,000 an hour, 10,000 a day. A commercial plan is a change of these three.
   */
  OPEN_METEO_CALLS_PER_MINUTE: z._default(positiveNumber, 600),
  OPEN_METEO_CALLS_PER_HOUR: z._default(positiveNumber, 5_000),
  OPEN_METEO_CALLS_PER_DAY: z._default(positiveNumber, 10_000),
  OPENWEATHER_CONCURRENCY: z._default(positiveInt, 4),
  /**
   * OpenWeatherMap's quotas in calls (each request weighs 1). Free plan: 60 a minute and 1,000,000 a
   * month; the month becomes 32,000 a day (31 × 32,000 < 1,000,000) and the hour 60 × 60 = 3,600.
   */
  OPENWEATHER_CALLS_PER_MINUTE: z._default(positiveNumber, 60),
  OPENWEATHER_CALLS_PER_HOUR: z._default(positiveNumber, 3_600),
  OPENWEATHER_CALLS_PER_DAY: z._default(positiveNumber, 32_000),
  HTTP_TIMEOUT_MS: z._default(positiveInt, 10_000),
  HTTP_MAX_ATTEMPTS: z._default(positiveInt, 4),
  HTTP_BACKOFF_BASE_MS: z._default(positiveInt, 500),
  HTTP_BACKOFF_MAX_MS: z._default(positiveInt, 20_000),
  /**
   * An observation whose time lies more than this many minutes outside its interval is quarantined
   * with a clock reason instead of being filed under the wrong hour.
   */
  OBSERVATION_TIME_TOLERANCE_MINUTES: z._default(z.coerce.number().check(z.int(), z.gte(0)), 60),
  /**
   * The largest response body read, in bytes; a longer one is cut while it streams (the attempt lands
   * with `bodyTruncated`, its sites are quarantined, it is not retried). Bounds memory per request.
   */
  HTTP_MAX_BODY_BYTES: z._default(positiveInt, DEFAULT_HTTP_MAX_BODY_BYTES),
  /**
   * The largest raw object a replay reads, in bytes; a larger one is skipped with its reason (and the
   * replayed run fails) instead of being loaded into memory. Landed objects stay far below it: bodies
   * are cut at HTTP_MAX_BODY_BYTES.
   */
  RAW_MAX_OBJECT_BYTES: z._default(positiveInt, 64 * 1024 * 1024),
  /** A run fails (exit 1) when more than this share of sites failed. */
  SITE_FAILURE_THRESHOLD: z._default(ratio, 0.1),
  /**
   * Bronze retention: `weather archive` without `--month` moves every UTC month that ended before the
   * month this many months back (24 in December 2026: November 2024 and earlier) from bronze into
   * Parquet in the raw store; `weather restore --month M` brings one back (core/use-cases/archive.ts).
   */
  BRONZE_RETENTION_MONTHS: z._default(positiveInt, 24),
  /** Custom endpoint for every AWS client (LocalStack: http://127.0.0.1:4566). */
  AWS_ENDPOINT_URL: z.optional(z.string().check(z.url())),
  AWS_REGION: z._default(z.string().check(z.minLength(1)), "us-east-1"),
  /**
   * How long a secret read from Secrets Manager (DATABASE_SECRET_ARN, OPENWEATHER_SECRET_ARN) is reused
   * before it is read again: a warm Lambda skips the call, a rotated secret arrives within this time.
   */
  SECRETS_MAX_AGE_SECONDS: z._default(nonNegativeInt, 300),
  /**
   * Sharded ingestion (the workflow's ingest phase, core/use-cases/shards.ts): sites per shard, and
   * shards in flight at once; each shard gets 1/concurrency of the provider's limits.
   */
  INGEST_SHARD_SIZE: z._default(positiveInt, 1000),
  INGEST_SHARD_CONCURRENCY: z._default(positiveInt, 4),
  /** EventBridge bus that receives `IngestionCompleted`; unset means no event is emitted. */
  EVENT_BUS_NAME: z.optional(z.string().check(z.minLength(1))),
  /** SNS topic for workflow failure notifications. */
  ALARM_TOPIC_ARN: z.optional(z.string().check(z.minLength(1))),
  /**
   * Time limits of the embedded workflow, in seconds (the cloud takes them from stacks/settings.ts).
   * A step running longer fails with States.Timeout, is retried, and after its last attempt goes to
   * the failure notification; the execution limit is the backstop above all retries.
   */
  WORKFLOW_TIMEOUT_SECONDS: z._default(positiveInt, 3600),
  /** The ingest phase of a scheduled execution: plan the shards, ingest one shard, complete the run. */
  WORKFLOW_PLAN_INGEST_TIMEOUT_SECONDS: z._default(positiveInt, 60),
  WORKFLOW_INGEST_SHARD_TIMEOUT_SECONDS: z._default(positiveInt, 300),
  WORKFLOW_COMPLETE_INGESTION_TIMEOUT_SECONDS: z._default(positiveInt, 60),
  WORKFLOW_SILVER_TIMEOUT_SECONDS: z._default(positiveInt, 120),
  /** The SilverChecks gate between Silver and Gold (read-only checks of the silver layer). */
  WORKFLOW_SILVER_CHECKS_TIMEOUT_SECONDS: z._default(positiveInt, 60),
  WORKFLOW_GOLD_TIMEOUT_SECONDS: z._default(positiveInt, 120),
  WORKFLOW_QUALITY_CHECKS_TIMEOUT_SECONDS: z._default(positiveInt, 60),
  WORKFLOW_NOTIFY_TIMEOUT_SECONDS: z._default(positiveInt, 30),
  POWERTOOLS_SERVICE_NAME: z._default(z.string(), "weather-dataops"),
  POWERTOOLS_METRICS_NAMESPACE: z._default(z.string(), "WeatherDataOps"),
});

export type Config = z.infer<typeof envSchema>;

/** Variables that no longer exist, and what replaces them: set silently, they would change nothing. */
const RETIRED: Record<string, string> = {
  OPEN_METEO_RATE_PER_MINUTE:
    "replaced by OPEN_METEO_CALLS_PER_MINUTE / _HOUR / _DAY (weighted calls, not requests)",
  OPENWEATHER_RATE_PER_MINUTE: "replaced by OPENWEATHER_CALLS_PER_MINUTE / _HOUR / _DAY",
};

/**
 * Validates the environment once. Throws {@link ConfigError} naming every bad variable, so a
 * misconfigured Lambda fails at cold start with a message that says what to set.
 */
export function loadConfig(
  overrides: Record<string, string | undefined> = {},
  env: Record<string, string | undefined> = process.env,
): Config {
  // An unset override (an absent CLI flag) must not hide the environment's value.
  const set = (o: Record<string, string | undefined>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ""));
  const cleaned = { ...set(env), ...set(overrides) };
  const retired = Object.keys(RETIRED).filter((name) => name in cleaned);
  if (retired.length > 0) {
    throw new ConfigError(
      `Retired variables; limits are now weighted calls per minute, hour and day:\n${retired
        .map((name) => `  ${name}: ${RETIRED[name]}`)
        .join("\n")}`,
    );
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid environment; fix these variables:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/** Where fresh embedded homes find their start template (core/adapters/embedded-database.ts). */
export function embeddedTemplateCache(config: Config): string | undefined {
  if (config.WEATHER_CACHE_DIR === "off") return undefined;
  return join(config.WEATHER_CACHE_DIR ?? join(homedir(), ".cache", "weather-dataops"), "pglite");
}

/** Where raw objects land: RAW_STORE, or a directory inside WEATHER_HOME. */
export function rawStoreLocation(config: Config): string {
  return config.RAW_STORE ?? `${config.WEATHER_HOME}/raw`;
}
