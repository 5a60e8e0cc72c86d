/**
 * OpenWeatherMap current weather (`/data/2.5/weather`), one site per request, API key in `appid`.
 *
 * Contract notes (from the API's documented behaviour):
 * - `dt` is the UTC second the data was calculated (updated at most every 10 minutes) → observedAt.
 * - Units follow the request's `units`: `metric` (°C, m/s), `imperial` (°F, mph), `standard` or absent
 *   (Kelvin, m/s). We send `metric`; parsing reads `units` from the envelope URL, so any of the three
 *   parses correctly and an unknown value is quarantined rather than guessed.
 * - Precipitation: `rain`/`snow` with `1h` (60-minute window) or `3h` (180); rain and snow add up.
 *   An absent `rain` and `snow` means it did not rain: 0 mm over 60 minutes (the API omits the block
 *   instead of sending zero), so dry sites are not mistaken for missing data.
 * - Optional in the API and null when absent: `main.feels_like`, `wind` (or `wind.deg`, `wind.gust`),
 *   `clouds`, `weather` (condition code null). Required: `dt`, `main.temp`, `main.pressure`,
 *   `main.humidity`.
 * - Errors: `cod` is a NUMBER on 401/429 (`{"cod": 401, "message": ...}`) but a STRING on 400/404
 *   (`{"cod": "404", "message": "city not found"}`).
 */
import { en } from "zod/locales";
import * as z from "zod/mini";
import type { Interval } from "../domain/interval.ts";
import type { Observation } from "../domain/observation.ts";
import type { Site } from "../domain/sites.ts";
import { fahrenheitToCelsius, kelvinToCelsius, mphToMs, round } from "../domain/units.ts";
import type { RawEnvelope, SiteParseResult } from "../ports.ts";
import {
  bodyExcerpt,
  type CredentialedProvider,
  contractReason,
  failAll,
  httpFailureReason,
  isSuccess,
  oversizedBody,
  parseJson,
  quarantineAll,
} from "./http.ts";
import type { ProviderLimits } from "./limits.ts";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

/** Error body: `cod` is a number or a numeric string depending on the error. */
export const openWeatherErrorSchema = z.object({
  cod: z.union([z.number().check(z.int()), z.string().check(z.regex(/^\d{3}$/))]),
  message: z.string(),
});

const precipitationBlock = z.optional(
  z.object({
    "1h": z.optional(z.number().check(z.nonnegative())),
    "3h": z.optional(z.number().check(z.nonnegative())),
  }),
);

/** Success body of `/data/2.5/weather`. */
export const openWeatherCurrentSchema = z.object({
  coord: z.optional(z.object({ lon: z.number(), lat: z.number() })),
  weather: z.optional(
    z.array(
      z.object({
        id: z.number().check(z.int()),
        main: z.optional(z.string()),
        description: z.optional(z.string()),
        icon: z.optional(z.string()),
      }),
    ),
  ),
  base: z.optional(z.string()),
  main: z.object({
    temp: z.number(),
    feels_like: z.optional(z.number()),
    temp_min: z.optional(z.number()),
    temp_max: z.optional(z.number()),
    pressure: z.number(),
    humidity: z.number(),
    sea_level: z.optional(z.number()),
    grnd_level: z.optional(z.number()),
  }),
  visibility: z.optional(z.number()),
  wind: z.optional(
    z.object({ speed: z.number(), deg: z.optional(z.number()), gust: z.optional(z.number()) }),
  ),
  clouds: z.optional(z.object({ all: z.number() })),
  rain: precipitationBlock,
  snow: precipitationBlock,
  dt: z.number().check(z.int()),
  sys: z.optional(z.record(z.string(), z.unknown())),
  timezone: z.optional(z.number().check(z.int())),
  id: z.optional(z.number().check(z.int())),
  name: z.optional(z.string()),
  cod: z.optional(z.union([z.number().check(z.int()), z.string()])),
});
export type OpenWeatherCurrent = z.infer<typeof openWeatherCurrentSchema>;

export interface OpenWeatherOptions {
  baseUrl: string;
  /** Needed only to build real request URLs; parsing and redacted URLs work without it (replays). */
  apiKey?: string;
  /**
   * Where `apiKey` came from, named in errors instead of the key: `OPENWEATHER_API_KEY` (the default)
   * or the secret OPENWEATHER_SECRET_ARN points at.
   */
  apiKeyOrigin?: string;
  concurrency: number;
  /** Calls per minute, hour and day (OPENWEATHER_CALLS_PER_*); every request weighs 1. */
  limits: ProviderLimits;
}

export class MissingApiKeyError extends Error {
  override name = "MissingApiKeyError";
  constructor() {
    super(
      "OpenWeatherMap needs an API key: set OPENWEATHER_API_KEY (local) or OPENWEATHER_SECRET_ARN (cloud), or use --source open-meteo.",
    );
  }
}

/**
 * Why a response means the key was rejected, or undefined: 401 always (invalid, unactivated or blocked
 * key), 403 only when its message is about the key (403 can also mean a plan without that API).
 */
export function openWeatherKeyRejection(envelope: RawEnvelope): string | undefined {
  if (envelope.status !== 401 && envelope.status !== 403) return undefined;
  const err = parseJson(envelope.body);
  const message = err.ok ? openWeatherErrorSchema.safeParse(err.value).data?.message : undefined;
  if (envelope.status === 403 && !/api key|appid/i.test(message ?? "")) return undefined;
  return (message ?? envelope.body.trim().slice(0, 200)) || "(empty body)";
}

/** OpenWeatherMap behind the common port. */
export function openWeatherProvider(opts: OpenWeatherOptions): CredentialedProvider {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const apiKey = opts.apiKey;
  return {
    source: "openweather",
    credential: { origin: opts.apiKeyOrigin ?? "OPENWEATHER_API_KEY", rejection: openWeatherKeyRejection },
    batchSize: 1,
    concurrency: opts.concurrency,
    limits: opts.limits,
    requestWeight: () => 1,
    url(sites: Site[], _interval: Interval, urlOpts?: { redact?: boolean }) {
      const [site] = sites;
      if (!site || sites.length !== 1) {
        throw new RangeError(`openweather: one site per request, got ${sites.length}`);
      }
      let key = "REDACTED";
      if (!urlOpts?.redact) {
        if (!apiKey) throw new MissingApiKeyError();
        key = encodeURIComponent(apiKey);
      }
      return `${base}/data/2.5/weather?lat=${site.lat}&lon=${site.lon}&units=metric&appid=${key}`;
    },
    parse: parseOpenWeather,
  };
}

const UNITS: Record<string, { temperature: (x: number) => number; wind: (x: number) => number }> = {
  standard: { temperature: kelvinToCelsius, wind: (x) => x },
  metric: { temperature: (x) => x, wind: (x) => x },
  imperial: { temperature: fahrenheitToCelsius, wind: mphToMs },
};

/** Per-site results for one OpenWeatherMap envelope. Pure. */
export function parseOpenWeather(envelope: RawEnvelope): SiteParseResult[] {
  const oversized = oversizedBody(envelope);
  if (oversized) return oversized;
  if (!isSuccess(envelope)) {
    const err = parseJson(envelope.body);
    const detail = err.ok ? openWeatherErrorSchema.safeParse(err.value).data?.message : undefined;
    return failAll(envelope, httpFailureReason(envelope, detail));
  }
  const json = parseJson(envelope.body);
  if (!json.ok) return quarantineAll(envelope, json.reason, bodyExcerpt(envelope.body));
  const body = json.value;
  const [site] = envelope.sites;
  if (!site || envelope.sites.length !== 1) {
    return quarantineAll(
      envelope,
      `envelope lists ${envelope.sites.length} sites; OpenWeatherMap answers one`,
      bodyExcerpt(envelope.body),
    );
  }
  const quarantine = (reason: string): SiteParseResult[] => [
    { siteId: site.id, status: "quarantined", reason, payload: body },
  ];

  const parsed = openWeatherCurrentSchema.safeParse(body);
  if (!parsed.success) {
    // An error body with HTTP 200 is still an error, not drift.
    const apiError = openWeatherErrorSchema.safeParse(body);
    if (apiError.success) return failAll(envelope, httpFailureReason(envelope, apiError.data.message));
    return quarantine(contractReason(parsed.error));
  }
  const w = parsed.data;
  const unitsParam = new URL(envelope.url).searchParams.get("units") ?? "standard";
  const units = UNITS[unitsParam];
  if (!units) return quarantine(`request units="${unitsParam}" is not one of standard, metric, imperial`);
  if (w.coord && !nearby(site, w.coord.lat, w.coord.lon)) {
    return quarantine(
      `schema drift: coord (${w.coord.lat}, ${w.coord.lon}) is not near site (${site.lat}, ${site.lon})`,
    );
  }

  const opt = (x: number | undefined, f: (v: number) => number = (v) => v) =>
    x === undefined ? null : round(f(x));
  const precipitation = precipitationOf(w);
  const condition = w.weather?.[0];
  const observation: Observation = {
    siteId: site.id,
    source: "openweather",
    kind: "current",
    observedAt: new Date(w.dt * 1000),
    temperatureC: round(units.temperature(w.main.temp)),
    feelsLikeC: opt(w.main.feels_like, units.temperature),
    humidityPct: round(w.main.humidity),
    pressureHpa: round(w.main.pressure),
    windSpeedMs: opt(w.wind?.speed, units.wind),
    windGustMs: opt(w.wind?.gust, units.wind),
    windDirectionDeg: opt(w.wind?.deg),
    cloudCoverPct: opt(w.clouds?.all),
    precipitationMm: round(precipitation.mm),
    precipitationWindowMinutes: precipitation.windowMinutes,
    conditionCode: condition ? String(condition.id) : null,
    conditionSystem: condition ? "owm" : null,
    payload: body,
  };
  return [{ siteId: site.id, status: "ok", observation }];
}

/** Rain plus snow (mm) over the window the API reports; prefers the 1-hour figures. */
function precipitationOf(w: OpenWeatherCurrent): { mm: number; windowMinutes: number } {
  const hasHour = w.rain?.["1h"] !== undefined || w.snow?.["1h"] !== undefined;
  const hasThree = w.rain?.["3h"] !== undefined || w.snow?.["3h"] !== undefined;
  if (!hasHour && hasThree) return { mm: (w.rain?.["3h"] ?? 0) + (w.snow?.["3h"] ?? 0), windowMinutes: 180 };
  return { mm: (w.rain?.["1h"] ?? 0) + (w.snow?.["1h"] ?? 0), windowMinutes: 60 };
}

/** The API echoes the request's coordinates (rounded); a far-off echo means a mixed-up response. */
function nearby(site: Site, lat: number, lon: number): boolean {
  const dLon = Math.abs(((((lon - site.lon) % 360) + 540) % 360) - 180);
  return Math.abs(lat - site.lat) <= 1 && dLon <= 1;
}
