/**
 * The provider factory. The simulator is not a provider of its own: it speaks both APIs, so point
 * either provider at it with `baseUrl`.
 */
import { type Config, ConfigError } from "../config/env.ts";
import { PROVIDER_SOURCES, type ProviderSource } from "../domain/observation.ts";
import type { WeatherProvider } from "../ports.ts";
import { type ProviderLimits, UNLIMITED } from "./limits.ts";
import { openMeteoProvider } from "./open-meteo.ts";
import { openMeteoHistory } from "./open-meteo-history.ts";
import { openWeatherProvider } from "./openweather.ts";

export {
  AuthenticationError,
  createRequestQueue,
  type FetchBatchArgs,
  fetchBatch,
  type HttpPolicy,
  httpPolicyFromConfig,
  type RequestQueue,
} from "./http.ts";
export {
  createWeightedLimiter,
  estimateSchedule,
  openMeteoWeight,
  type ProviderLimits,
  type ScheduleEstimate,
  WeightExceedsLimitError,
  WeightedLimiter,
  windowUsage,
} from "./limits.ts";
export { openMeteoProvider, parseOpenMeteo } from "./open-meteo.ts";
export { openMeteoHistory, parseOpenMeteoHourly } from "./open-meteo-history.ts";
export { MissingApiKeyError, openWeatherProvider, parseOpenWeather } from "./openweather.ts";

export interface CreateProviderOptions {
  /** OpenWeatherMap key (from Secrets Manager in the cloud); defaults to OPENWEATHER_API_KEY. */
  apiKey?: string;
  /** Where `apiKey` came from, for messages; derived from `config` (as runtime.ts picks the key) when omitted. */
  apiKeyOrigin?: string;
  /** Overrides OPEN_METEO_BASE_URL / OPENWEATHER_BASE_URL, e.g. the simulator's URL. */
  baseUrl?: string;
  /** Overrides OPEN_METEO_ARCHIVE_URL; defaults to `baseUrl` when that is given (one server serving both). */
  archiveUrl?: string;
}

/**
 * Builds the provider for `source` with batch size, concurrency and rate from `config`.
 * An OpenWeatherMap provider without a key, or a simulator one without SIMULATOR_URL, still parses
 * (replays); building a request URL then throws {@link MissingApiKeyError} (simulator: ConfigError).
 */
export function createProvider(
  config: Config,
  source: ProviderSource,
  opts: CreateProviderOptions = {},
): WeatherProvider {
  switch (source) {
    case "open-meteo": {
      const baseUrl = opts.baseUrl ?? config.OPEN_METEO_BASE_URL;
      return {
        ...openMeteoProvider({
          baseUrl,
          batchSize: config.OPEN_METEO_BATCH_SIZE,
          concurrency: config.OPEN_METEO_CONCURRENCY,
          limits: openMeteoLimits(config),
        }),
        history: openMeteoHistory({
          baseUrl,
          archiveUrl: opts.archiveUrl ?? opts.baseUrl ?? config.OPEN_METEO_ARCHIVE_URL,
        }),
      };
    }
    case "openweather":
      return openWeatherProvider({
        baseUrl: opts.baseUrl ?? config.OPENWEATHER_BASE_URL,
        apiKey: opts.apiKey ?? config.OPENWEATHER_API_KEY,
        apiKeyOrigin: opts.apiKeyOrigin ?? apiKeyOrigin(config),
        concurrency: config.OPENWEATHER_CONCURRENCY,
        limits: {
          perMinute: config.OPENWEATHER_CALLS_PER_MINUTE,
          perHour: config.OPENWEATHER_CALLS_PER_HOUR,
          perDay: config.OPENWEATHER_CALLS_PER_DAY,
        },
      });
    case "simulator": {
      // The simulator speaks Open-Meteo's API; only the label differs, and that label is the point.
      // Without SIMULATOR_URL it still parses (replays); building a request URL then says what to set.
      const baseUrl = opts.baseUrl ?? config.SIMULATOR_URL;
      // Its requests weigh what Open-Meteo's would, but nothing meters them: the simulator is ours
      // and local, and tests and benchmarks must not wait out a quota (UNLIMITED; see decisions.md).
      // It serves both history endpoints too (/v1/forecast and /v1/archive on one URL).
      const dialect = openMeteoProvider({
        baseUrl: baseUrl ?? "http://simulator.invalid",
        batchSize: config.OPEN_METEO_BATCH_SIZE,
        concurrency: config.OPEN_METEO_CONCURRENCY,
        limits: UNLIMITED,
      });
      const history = openMeteoHistory({
        baseUrl: baseUrl ?? "http://simulator.invalid",
        archiveUrl: baseUrl ?? "http://simulator.invalid",
      });
      const needUrl = () => {
        if (!baseUrl)
          throw new ConfigError(
            "WEATHER_SOURCE=simulator needs SIMULATOR_URL (the CLI starts a simulator itself; the local cloud sets it)",
          );
      };
      return {
        ...dialect,
        source: "simulator",
        url(sites, interval, urlOpts) {
          needUrl();
          return dialect.url(sites, interval, urlOpts);
        },
        history: {
          ...history,
          request(sites, window) {
            needUrl();
            return history.request(sites, window);
          },
        },
      };
    }
    default: {
      const never: never = source;
      throw new RangeError(`Unknown provider source "${String(never)}": use open-meteo or openweather`);
    }
  }
}

/** One provider per source, for parsing landed envelopes (replays): no key or URL is needed. */
export function parsersFor(config: Config): Record<ProviderSource, WeatherProvider> {
  return Object.fromEntries(PROVIDER_SOURCES.map((s) => [s, createProvider(config, s)])) as Record<
    ProviderSource,
    WeatherProvider
  >;
}

/** Open-Meteo's tier from OPEN_METEO_CALLS_PER_MINUTE / _HOUR / _DAY. */
function openMeteoLimits(config: Config): ProviderLimits {
  return {
    perMinute: config.OPEN_METEO_CALLS_PER_MINUTE,
    perHour: config.OPEN_METEO_CALLS_PER_HOUR,
    perDay: config.OPEN_METEO_CALLS_PER_DAY,
  };
}

/** Names where the OpenWeatherMap key is read from, in the order runtime.ts reads it: never the key itself. */
function apiKeyOrigin(config: Config): string {
  if (config.OPENWEATHER_API_KEY === undefined && config.OPENWEATHER_SECRET_ARN !== undefined) {
    return `the secret ${config.OPENWEATHER_SECRET_ARN} (OPENWEATHER_SECRET_ARN)`;
  }
  return "OPENWEATHER_API_KEY";
}
