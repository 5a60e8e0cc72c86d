/**
 * Open-Meteo current weather (`/v1/forecast?current=...`), keyless, many coordinates per request.
 *
 * Contract notes (from the API's documented behaviour):
 * - One coordinate → one JSON object; several → a JSON array in request order.
 * - `current.time` is LOCAL wall time without offset or seconds (`2026-10-03T12:30`); the top-level
 *   `utc_offset_seconds` turns it into UTC: observedAt = local − offset. Offsets may be half or
 *   three-quarter hours (Kathmandu +20700 s, St John's −12600 s).
 * - `current.interval` (seconds, 900 for the 15-minute `current` block) is the precipitation window.
 * - We request `wind_speed_unit=ms`, but parsing follows `current_units` (km/h, mp/h, kn, °F, inch are
 *   converted), falling back to the units the envelope's URL asked for (the API's defaults when absent).
 * - Every variable the URL requested must be present as a key (its value may be null: the model had
 *   none). A requested key that is missing or mistyped is schema drift → quarantine; a variable the URL
 *   did not request, and metadata (`elevation`, `timezone`, `current_units`, `current.interval`), may
 *   be absent and read as null / defaults.
 * - Errors: HTTP 400 with `{"error": true, "reason": "..."}`.
 */
import { en } from "zod/locales";
import * as z from "zod/mini";
import type { Interval } from "../domain/interval.ts";
import type { Observation } from "../domain/observation.ts";
import type { Site } from "../domain/sites.ts";
import { fahrenheitToCelsius, inchesToMm, kmhToMs, mphToMs, round } from "../domain/units.ts";
import type { RawEnvelope, SiteParseResult, SiteProblem, WeatherProvider } from "../ports.ts";
import {
  bodyExcerpt,
  contractReason,
  failAll,
  httpFailureReason,
  isSuccess,
  oversizedBody,
  parseJson,
  quarantineAll,
} from "./http.ts";
import { openMeteoWeight, type ProviderLimits } from "./limits.ts";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

/** The `current` variables we ask for, in URL order. */
export const OPEN_METEO_CURRENT_VARIABLES = [
  "temperature_2m",
  "relative_humidity_2m",
  "apparent_temperature",
  "precipitation",
  "weather_code",
  "cloud_cover",
  "pressure_msl",
  "wind_speed_10m",
  "wind_direction_10m",
  "wind_gusts_10m",
] as const;
export type OpenMeteoVariable = (typeof OPEN_METEO_CURRENT_VARIABLES)[number];

/** Error body, HTTP 400. */
export const openMeteoErrorSchema = z.object({ error: z.literal(true), reason: z.string() });

const reading = z.optional(z.nullable(z.number()));

/** The metadata every location element carries, whatever block it holds (current or hourly). */
export const openMeteoLocationFields = {
  latitude: z.number(),
  longitude: z.number(),
  generationtime_ms: z.optional(z.number()),
  utc_offset_seconds: z.number().check(z.int()),
  timezone: z.optional(z.string()),
  timezone_abbreviation: z.optional(z.string()),
  elevation: z.optional(z.nullable(z.number())),
  location_id: z.optional(z.number().check(z.int())),
};

/** One location's success body (the whole body for one coordinate, one array element for several). */
export const openMeteoLocationSchema = z.object({
  ...openMeteoLocationFields,
  current_units: z.optional(z.record(z.string(), z.string())),
  current: z.object({
    time: z
      .string()
      .check(z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, "must be local time like 2026-10-03T12:30")),
    interval: z.optional(z.number().check(z.int(), z.positive())),
    temperature_2m: reading,
    relative_humidity_2m: reading,
    apparent_temperature: reading,
    precipitation: reading,
    weather_code: z.optional(z.nullable(z.number().check(z.int()))),
    cloud_cover: reading,
    pressure_msl: reading,
    wind_speed_10m: reading,
    wind_direction_10m: reading,
    wind_gusts_10m: reading,
  }),
});
export type OpenMeteoLocation = z.infer<typeof openMeteoLocationSchema>;

export interface OpenMeteoOptions {
  baseUrl: string;
  batchSize: number;
  concurrency: number;
  /** Weighted calls per minute, hour and day (OPEN_METEO_CALLS_PER_*). */
  limits: ProviderLimits;
}

/** Open-Meteo behind the common port. */
export function openMeteoProvider(opts: OpenMeteoOptions): WeatherProvider {
  const base = opts.baseUrl.replace(/\/+$/, "");
  return {
    source: "open-meteo",
    batchSize: opts.batchSize,
    concurrency: opts.concurrency,
    limits: opts.limits,
    // The current block is one day of OPEN_METEO_CURRENT_VARIABLES per location.
    requestWeight: (sites) =>
      openMeteoWeight({ variables: OPEN_METEO_CURRENT_VARIABLES.length, days: 1, locations: sites.length }),
    url(sites: Site[], _interval: Interval) {
      if (sites.length === 0) throw new RangeError("open-meteo: a request needs at least one site");
      // Commas stay literal: the API documents comma-separated lists and the URL stays readable in raw.
      const lat = sites.map((s) => String(s.lat)).join(",");
      const lon = sites.map((s) => String(s.lon)).join(",");
      const current = OPEN_METEO_CURRENT_VARIABLES.join(",");
      return `${base}/v1/forecast?latitude=${lat}&longitude=${lon}&current=${current}&wind_speed_unit=ms&timezone=auto`;
    },
    parse: parseOpenMeteo,
  };
}

/** Per-site results for one Open-Meteo envelope. Pure. */
export function parseOpenMeteo(envelope: RawEnvelope): SiteParseResult[] {
  const located = locationElements(envelope);
  if (!located.ok) return located.results;
  const n = envelope.sites.length;
  const request = requestOf(envelope.url, "current");
  return envelope.sites.map((site, i) =>
    parseLocation(site, located.elements[i], request, n > 1 ? `[${i}]` : ""),
  );
}

/**
 * The body's location elements in request order, or every site's result when the envelope as a whole
 * gives nothing (cut body, HTTP error, malformed JSON, API error, wrong number of locations). Shared by
 * the current and the hourly (history) parsers.
 */
export function locationElements(
  envelope: RawEnvelope,
): { ok: true; elements: unknown[] } | { ok: false; results: SiteProblem[] } {
  const oversized = oversizedBody(envelope);
  if (oversized) return { ok: false, results: oversized };
  if (!isSuccess(envelope)) {
    const err = parseJson(envelope.body);
    const detail = err.ok ? openMeteoErrorSchema.safeParse(err.value).data?.reason : undefined;
    return { ok: false, results: failAll(envelope, httpFailureReason(envelope, detail)) };
  }
  const json = parseJson(envelope.body);
  // Whole-batch problems carry an excerpt: the body once per site would multiply it by the batch size.
  if (!json.ok)
    return { ok: false, results: quarantineAll(envelope, json.reason, bodyExcerpt(envelope.body)) };
  const body = json.value;
  const apiError = openMeteoErrorSchema.safeParse(body);
  if (apiError.success) {
    return { ok: false, results: failAll(envelope, httpFailureReason(envelope, apiError.data.reason)) };
  }

  const n = envelope.sites.length;
  let elements: unknown[];
  if (Array.isArray(body)) elements = body;
  else if (n === 1) elements = [body];
  else {
    const reason = `schema drift: expected an array of ${n} locations, got one object`;
    return { ok: false, results: quarantineAll(envelope, reason, bodyExcerpt(envelope.body)) };
  }
  if (elements.length !== n) {
    const reason = `schema drift: expected ${n} locations in request order, got ${elements.length}`;
    return { ok: false, results: quarantineAll(envelope, reason, bodyExcerpt(envelope.body)) };
  }
  return { ok: true, elements };
}

/** The response block a parser reads: `current` conditions or the `hourly` table. */
export type OpenMeteoBlock = "current" | "hourly";

export interface RequestShape {
  requested: Set<string>;
  defaultUnits: Record<"temperature" | "wind" | "precipitation", string>;
}

/** What the URL asked for in `block`: which variables must be present and which units to assume. */
export function requestOf(url: string, block: OpenMeteoBlock): RequestShape {
  const q = new URL(url).searchParams;
  const requested = new Set((q.get(block) ?? "").split(",").filter((v) => v !== ""));
  const wind = { ms: "m/s", kmh: "km/h", mph: "mp/h", kn: "kn" }[q.get("wind_speed_unit") ?? "kmh"] ?? "?";
  return {
    requested,
    defaultUnits: {
      temperature: q.get("temperature_unit") === "fahrenheit" ? "°F" : "°C",
      wind,
      precipitation: q.get("precipitation_unit") === "inch" ? "inch" : "mm",
    },
  };
}

/** A unit the parser cannot convert: the site is quarantined with this message. */
export class UnitError extends Error {}

/** One time step's values, by variable (a `current` block, or one row of the `hourly` table). */
export type OpenMeteoReadings = Partial<Record<OpenMeteoVariable, number | null | undefined>>;

/** The canonical measurements of one time step (everything but time, window and provenance). */
export type Measurements = Pick<
  Observation,
  | "temperatureC"
  | "feelsLikeC"
  | "humidityPct"
  | "pressureHpa"
  | "windSpeedMs"
  | "windGustMs"
  | "windDirectionDeg"
  | "cloudCoverPct"
  | "precipitationMm"
  | "conditionCode"
  | "conditionSystem"
>;

/**
 * A reader of one location's time steps into canonical measurements, following `units` (the
 * response's `current_units` / `hourly_units`) and falling back to the units the request asked for.
 * A unit is checked the first time a variable has a value; one it cannot convert throws
 * {@link UnitError} naming `<block>_units.<variable>`. Built once per location, so a table of many
 * hours resolves each converter once.
 */
export function measurementsReader(
  units: Record<string, string> | undefined,
  request: RequestShape,
  at: string,
  block: OpenMeteoBlock,
): (readings: OpenMeteoReadings) => Measurements {
  const field = (variable: OpenMeteoVariable, accepted: Record<string, Conv>, fallback: string) => {
    let conv: Conv | undefined;
    return (value: number | null | undefined): number | null => {
      if (value === null || value === undefined) return null;
      if (!conv) {
        const unit = units?.[variable] ?? fallback;
        conv = accepted[unit];
        if (!conv) {
          throw new UnitError(
            `schema drift: ${at ? `${at}.` : ""}${block}_units.${variable}: unsupported unit "${unit}" (expected ${Object.keys(accepted).join(" or ")})`,
          );
        }
      }
      return round(conv(value));
    };
  };
  const first = (accepted: Record<string, Conv>) => Object.keys(accepted)[0] ?? "";
  const { temperature, wind, precipitation } = request.defaultUnits;
  const temp = field("temperature_2m", TEMPERATURE, temperature);
  const feels = field("apparent_temperature", TEMPERATURE, temperature);
  const humidity = field("relative_humidity_2m", PERCENT, first(PERCENT));
  const pressure = field("pressure_msl", HPA, first(HPA));
  const speed = field("wind_speed_10m", WIND, wind);
  const gust = field("wind_gusts_10m", WIND, wind);
  const direction = field("wind_direction_10m", DEGREES, first(DEGREES));
  const cloud = field("cloud_cover", PERCENT, first(PERCENT));
  const precip = field("precipitation", PRECIPITATION, precipitation);
  return (r) => {
    const code = r.weather_code;
    return {
      temperatureC: temp(r.temperature_2m),
      feelsLikeC: feels(r.apparent_temperature),
      humidityPct: humidity(r.relative_humidity_2m),
      pressureHpa: pressure(r.pressure_msl),
      windSpeedMs: speed(r.wind_speed_10m),
      windGustMs: gust(r.wind_gusts_10m),
      windDirectionDeg: direction(r.wind_direction_10m),
      cloudCoverPct: cloud(r.cloud_cover),
      precipitationMm: precip(r.precipitation),
      conditionCode: code === null || code === undefined ? null : String(code),
      conditionSystem: code === null || code === undefined ? null : "wmo",
    };
  };
}

function parseLocation(site: Site, element: unknown, request: RequestShape, at: string): SiteParseResult {
  const quarantine = (reason: string): SiteParseResult => ({
    siteId: site.id,
    status: "quarantined",
    reason,
    payload: element,
  });
  const parsed = openMeteoLocationSchema.safeParse(element);
  if (!parsed.success) return quarantine(contractReason(parsed.error, at));
  const loc = parsed.data;
  const current = loc.current as Record<string, unknown>;
  const missing = OPEN_METEO_CURRENT_VARIABLES.filter((v) => request.requested.has(v) && !(v in current));
  if (missing.length > 0) {
    const fields = missing.map((v) => `${at ? `${at}.` : ""}current.${v}`).join(", ");
    return quarantine(`schema drift: ${fields}: requested but missing`);
  }
  if (!nearby(site, loc.latitude, loc.longitude)) return quarantine(notNearby(site, loc, at));

  try {
    const c = loc.current;
    const observation: Observation = {
      siteId: site.id,
      source: "open-meteo",
      kind: "current",
      observedAt: localToUtc(c.time, loc.utc_offset_seconds),
      ...measurementsReader(loc.current_units, request, at, "current")(c),
      precipitationWindowMinutes:
        c.precipitation === null || c.precipitation === undefined
          ? null
          : Math.round((c.interval ?? 900) / 60),
      payload: element,
    };
    return { siteId: site.id, status: "ok", observation };
  } catch (error) {
    if (error instanceof UnitError) return quarantine(error.message);
    throw error;
  }
}

/** The reason for a location whose coordinates are not the site's: the answer is out of order. */
export function notNearby(site: Site, loc: { latitude: number; longitude: number }, at: string): string {
  return `schema drift: ${at ? `${at}.` : ""}latitude/longitude (${loc.latitude}, ${loc.longitude}) is not near site (${site.lat}, ${site.lon}); response order mismatch`;
}

type Conv = (x: number) => number;
const identity: Conv = (x) => x;
const TEMPERATURE: Record<string, Conv> = { "°C": identity, "°F": fahrenheitToCelsius };
// Open-Meteo spells miles per hour "mp/h"; "mph" is accepted too in case that ever changes.
const WIND: Record<string, Conv> = {
  "m/s": identity,
  "km/h": kmhToMs,
  "mp/h": mphToMs,
  mph: mphToMs,
  kn: (kn) => kn * (1852 / 3600),
};
const PRECIPITATION: Record<string, Conv> = { mm: identity, inch: inchesToMm };
const PERCENT: Record<string, Conv> = { "%": identity };
const HPA: Record<string, Conv> = { hPa: identity };
const DEGREES: Record<string, Conv> = { "°": identity };

/** `2026-10-03T12:30` local at `offsetSeconds` east of UTC → the UTC instant. */
export function localToUtc(localTime: string, offsetSeconds: number): Date {
  const [date = "", time = ""] = localTime.split("T");
  const [y = 0, mo = 1, d = 1] = date.split("-").map(Number);
  const [h = 0, mi = 0, s = 0] = time.split(":").map(Number);
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s) - offsetSeconds * 1000);
}

/** Open-Meteo snaps to its grid cell, never further than a fraction of a degree. */
export function nearby(site: Site, lat: number, lon: number): boolean {
  const dLon = Math.abs(((((lon - site.lon) % 360) + 540) % 360) - 180);
  return Math.abs(lat - site.lat) <= 1 && dLon <= 1;
}
