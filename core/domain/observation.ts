/**
 * The canonical observation every provider is normalized to: UTC time, SI-ish units (°C, m/s, hPa, %,
 * mm over a stated window) and a condition code that names its code system.
 */
import { z } from "zod";

export const PROVIDER_SOURCES = ["open-meteo", "openweather"] as const;
export type ProviderSource = (typeof PROVIDER_SOURCES)[number];

export const CONDITION_SYSTEMS = ["wmo", "owm"] as const;

export const observationSchema = z.object({
  siteId: z.string().min(1),
  source: z.enum(PROVIDER_SOURCES),
  observedAt: z.date(),
  temperatureC: z.number().nullable(),
  feelsLikeC: z.number().nullable(),
  humidityPct: z.number().nullable(),
  pressureHpa: z.number().nullable(),
  windSpeedMs: z.number().nullable(),
  windGustMs: z.number().nullable(),
  windDirectionDeg: z.number().nullable(),
  cloudCoverPct: z.number().nullable(),
  precipitationMm: z.number().nullable(),
  /** Length of the window `precipitationMm` covers (Open-Meteo current: 15, OWM rain.1h: 60). */
  precipitationWindowMinutes: z.number().int().positive().nullable(),
  conditionCode: z.string().nullable(),
  conditionSystem: z.enum(CONDITION_SYSTEMS).nullable(),
  /** The part of the provider response this observation came from, kept verbatim in bronze. */
  payload: z.unknown(),
});

export type Observation = z.infer<typeof observationSchema>;
