/**
 * The one environment gate. Nothing outside `core/config` reads `process.env`: every entry point
 * calls {@link loadConfig} once and passes the typed result down.
 */
import { en } from "zod/locales";
import * as z from "zod/mini";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

export class ConfigError extends Error {
  override name = "ConfigError";
}

const positiveInt = z.coerce.number().check(z.int(), z.positive());
const ratio = z.coerce.number().check(z.gte(0), z.lte(1));

export const SOURCES = ["open-meteo", "openweather", "simulator"] as const;
export type SourceName = (typeof SOURCES)[number];

const envSchema = z.object({
  /** Postgres connection string; unset means the embedded PGlite under WEATHER_HOME/pg. */
  DATABASE_URL: z.optional(z.string().check(z.url())),
  /** AWS Secrets Manager secret holding `{ "url": "postgres://..." }` (cloud runtimes). */
  DATABASE_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  /** Where the embedded default keeps its state (raw objects, PGlite data). */
  WEATHER_HOME: z._default(z.string().check(z.minLength(1)), ".weather"),
  /** A directory or `s3://bucket[/prefix]`; defaults to WEATHER_HOME/raw. */
  RAW_STORE: z.optional(z.string().check(z.minLength(1))),
  WEATHER_SOURCE: z._default(z.enum(SOURCES), "open-meteo"),
  SITES_FILE: z._default(z.string().check(z.minLength(1)), "config/sites.json"),
  OPEN_METEO_BASE_URL: z._default(z.string().check(z.url()), "https://api.open-meteo.com"),
  OPENWEATHER_BASE_URL: z._default(z.string().check(z.url()), "https://api.openweathermap.org"),
  /** Local runtimes take the key from here; the cloud reads OPENWEATHER_SECRET_ARN instead. */
  OPENWEATHER_API_KEY: z.optional(z.string().check(z.minLength(1))),
  OPENWEATHER_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  /** Open-Meteo's free API serves about one request at a time per IP: batch, don't fan out. */
  OPEN_METEO_BATCH_SIZE: z._default(positiveInt, 50),
  OPEN_METEO_CONCURRENCY: z._default(positiveInt, 1),
  OPEN_METEO_RATE_PER_MINUTE: z._default(positiveInt, 600),
  /** OpenWeatherMap free tier: 60 calls per minute. */
  OPENWEATHER_CONCURRENCY: z._default(positiveInt, 4),
  OPENWEATHER_RATE_PER_MINUTE: z._default(positiveInt, 60),
  HTTP_TIMEOUT_MS: z._default(positiveInt, 10_000),
  HTTP_MAX_ATTEMPTS: z._default(positiveInt, 4),
  HTTP_BACKOFF_BASE_MS: z._default(positiveInt, 500),
  HTTP_BACKOFF_MAX_MS: z._default(positiveInt, 20_000),
  /** A run fails (exit 1) when more than this share of sites failed. */
  SITE_FAILURE_THRESHOLD: z._default(ratio, 0.1),
  /** Custom endpoint for every AWS client (LocalStack: http://127.0.0.1:4566). */
  AWS_ENDPOINT_URL: z.optional(z.string().check(z.url())),
  AWS_REGION: z._default(z.string().check(z.minLength(1)), "us-east-1"),
  /** EventBridge bus that receives `IngestionCompleted`; unset means no event is emitted. */
  EVENT_BUS_NAME: z.optional(z.string().check(z.minLength(1))),
  /** SNS topic for workflow failure notifications. */
  ALARM_TOPIC_ARN: z.optional(z.string().check(z.minLength(1))),
  /**
   * Time limits of the embedded workflow, in seconds (the cloud takes them from stacks/settings.ts).
   * A step running longer fails with States.Timeout, is retried, and after its last attempt goes to
   * the failure notification; the execution limit is the backstop above all retries.
   */
  WORKFLOW_TIMEOUT_SECONDS: z._default(positiveInt, 1800),
  WORKFLOW_SILVER_TIMEOUT_SECONDS: z._default(positiveInt, 120),
  WORKFLOW_GOLD_TIMEOUT_SECONDS: z._default(positiveInt, 120),
  WORKFLOW_QUALITY_CHECKS_TIMEOUT_SECONDS: z._default(positiveInt, 60),
  WORKFLOW_NOTIFY_TIMEOUT_SECONDS: z._default(positiveInt, 30),
  POWERTOOLS_SERVICE_NAME: z._default(z.string(), "weather-dataops"),
  POWERTOOLS_METRICS_NAMESPACE: z._default(z.string(), "WeatherDataOps"),
});

export type Config = z.infer<typeof envSchema>;

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
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid environment; fix these variables:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/** Where raw objects land: RAW_STORE, or a directory inside WEATHER_HOME. */
export function rawStoreLocation(config: Config): string {
  return config.RAW_STORE ?? `${config.WEATHER_HOME}/raw`;
}
