/**
 * The one environment gate. Nothing outside `core/config` reads `process.env`: every entry point
 * calls {@link loadConfig} once and passes the typed result down.
 */
import { z } from "zod";

export class ConfigError extends Error {
  override name = "ConfigError";
}

const positiveInt = z.coerce.number().int().positive();
const ratio = z.coerce.number().min(0).max(1);

export const SOURCES = ["open-meteo", "openweather", "simulator"] as const;
export type SourceName = (typeof SOURCES)[number];

const envSchema = z.object({
  /** Postgres connection string; unset means the embedded PGlite under WEATHER_HOME/pg. */
  DATABASE_URL: z.string().url().optional(),
  /** AWS Secrets Manager secret holding `{ "url": "postgres://..." }` (cloud runtimes). */
  DATABASE_SECRET_ARN: z.string().min(1).optional(),
  /** Where the embedded default keeps its state (raw objects, PGlite data). */
  WEATHER_HOME: z.string().min(1).default(".weather"),
  /** A directory or `s3://bucket[/prefix]`; defaults to WEATHER_HOME/raw. */
  RAW_STORE: z.string().min(1).optional(),
  WEATHER_SOURCE: z.enum(SOURCES).default("open-meteo"),
  SITES_FILE: z.string().min(1).default("config/sites.json"),
  OPEN_METEO_BASE_URL: z.string().url().default("https://api.open-meteo.com"),
  OPENWEATHER_BASE_URL: z.string().url().default("https://api.openweathermap.org"),
  /** Local runtimes take the key from here; the cloud reads OPENWEATHER_SECRET_ARN instead. */
  OPENWEATHER_API_KEY: z.string().min(1).optional(),
  OPENWEATHER_SECRET_ARN: z.string().min(1).optional(),
  /** Open-Meteo's free API serves about one request at a time per IP: batch, don't fan out. */
  OPEN_METEO_BATCH_SIZE: positiveInt.default(50),
  OPEN_METEO_CONCURRENCY: positiveInt.default(1),
  OPEN_METEO_RATE_PER_MINUTE: positiveInt.default(600),
  /** OpenWeatherMap free tier: 60 calls per minute. */
  OPENWEATHER_CONCURRENCY: positiveInt.default(4),
  OPENWEATHER_RATE_PER_MINUTE: positiveInt.default(60),
  HTTP_TIMEOUT_MS: positiveInt.default(10_000),
  HTTP_MAX_ATTEMPTS: positiveInt.default(4),
  HTTP_BACKOFF_BASE_MS: positiveInt.default(500),
  HTTP_BACKOFF_MAX_MS: positiveInt.default(20_000),
  /** A run fails (exit 1) when more than this share of sites failed. */
  SITE_FAILURE_THRESHOLD: ratio.default(0.1),
  /** Custom endpoint for every AWS client (LocalStack: http://127.0.0.1:4566). */
  AWS_ENDPOINT_URL: z.string().url().optional(),
  AWS_REGION: z.string().min(1).default("us-east-1"),
  /** EventBridge bus that receives `IngestionCompleted`; unset means no event is emitted. */
  EVENT_BUS_NAME: z.string().min(1).optional(),
  /** SNS topic for workflow failure notifications. */
  ALARM_TOPIC_ARN: z.string().min(1).optional(),
  POWERTOOLS_SERVICE_NAME: z.string().default("weather-dataops"),
  POWERTOOLS_METRICS_NAMESPACE: z.string().default("WeatherDataOps"),
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
