/**
 * The canonical observation every provider is normalized to: UTC time, SI-ish units (°C, m/s, hPa, %,
 * mm over a stated window) and a condition code that names its code system.
 */
import { en } from "zod/locales";
import * as z from "zod/mini";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

/**
 * The label every raw object, run id and bronze row carries. `simulator` is the bundled API simulator
 * (it speaks Open-Meteo's API): its data keeps its own label, so it can never pass for real data nor
 * replace a real source's raw objects or rows.
 */
export const PROVIDER_SOURCES = ["open-meteo", "openweather", "simulator"] as const;
export type ProviderSource = (typeof PROVIDER_SOURCES)[number];

export const CONDITION_SYSTEMS = ["wmo", "owm"] as const;

/**
 * What kind of value an observation is: `current` conditions at fetch time (hourly ingestion), an hour
 * from the forecast API's past hours (`forecast`: the weather model's analysis, about the last 92
 * days), or from the Historical Weather API (`archive`: reanalysis, 1940 to about five days ago).
 * Silver keeps one row per site, source and hour by this precedence (docs/decisions.md).
 */
export const OBSERVATION_KINDS = ["current", "forecast", "archive"] as const;
export type ObservationKind = (typeof OBSERVATION_KINDS)[number];

export const observationSchema = z.object({
  siteId: z.string().check(z.minLength(1)),
  source: z.enum(PROVIDER_SOURCES),
  kind: z.enum(OBSERVATION_KINDS),
  observedAt: z.date(),
  temperatureC: z.nullable(z.number()),
  feelsLikeC: z.nullable(z.number()),
  humidityPct: z.nullable(z.number()),
  pressureHpa: z.nullable(z.number()),
  windSpeedMs: z.nullable(z.number()),
  windGustMs: z.nullable(z.number()),
  windDirectionDeg: z.nullable(z.number()),
  cloudCoverPct: z.nullable(z.number()),
  precipitationMm: z.nullable(z.number()),
  /** Length of the window `precipitationMm` covers (Open-Meteo current: 15, OWM rain.1h: 60). */
  precipitationWindowMinutes: z.nullable(z.number().check(z.int(), z.positive())),
  conditionCode: z.nullable(z.string()),
  conditionSystem: z.nullable(z.enum(CONDITION_SYSTEMS)),
  /** The part of the provider response this observation came from, kept verbatim in bronze. */
  payload: z.unknown(),
});

export type Observation = z.infer<typeof observationSchema>;
