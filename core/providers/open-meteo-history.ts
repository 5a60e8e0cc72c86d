/**
 * Open-Meteo hourly history: the forecast API's past hours (`/v1/forecast?hourly=...`, the last 92
 * days) and the Historical Weather API (`/v1/archive?hourly=...`, 1940 to about five days ago).
 *
 * Contract notes (from the API documentation, open-meteo.com/en/docs and /en/docs/historical-weather-api):
 * - Forecast API: `start_hour` / `end_hour` (`yyyy-mm-ddThh:mm`, both included) select hours; `past_days`
 *   allows at most 92, so older hours go to the archive. Archive: `start_date` / `end_date`
 *   (`yyyy-mm-dd`, both required, both included) select whole days; hours outside the requested range
 *   are dropped when parsing.
 * - We ask `timezone=GMT` (the documented default) and `wind_speed_unit=ms`; `hourly.time` is local
 *   wall time at `utc_offset_seconds` (0 for GMT), converted like `current.time`.
 * - `hourly.time` plus one array per requested variable, all of the same length; `hourly_units` names
 *   the units, which parsing follows (the live parser's converters), falling back to what the URL
 *   asked for. A requested variable that is missing, an array of another length or a unit we cannot
 *   convert quarantines that site with a reason naming the field.
 * - Every hourly variable we ask for is documented "Instant" or "Preceding hour" (precipitation is the
 *   preceding hour's sum, gusts its maximum): observedAt = the hour, precipitation window 60 minutes.
 * - Errors: HTTP 400 with `{"error": true, "reason": "..."}`, one element per coordinate otherwise.
 */
import * as z from "zod/mini";
import { addHours, type Interval, intervalStart } from "../domain/interval.ts";
import type { Observation, ObservationKind } from "../domain/observation.ts";
import type { Site } from "../domain/sites.ts";
import type { HistoryEndpoint, HistorySupport, RawEnvelope, SiteHistoryResult } from "../ports.ts";
import { bodyExcerpt, contractReason, quarantineAll } from "./http.ts";
import {
  localToUtc,
  locationElements,
  measurementsReader,
  nearby,
  notNearby,
  OPEN_METEO_CURRENT_VARIABLES,
  type OpenMeteoReadings,
  type OpenMeteoVariable,
  openMeteoLocationFields,
  type RequestShape,
  requestOf,
  UnitError,
} from "./open-meteo.ts";

/** The hourly variables a history request asks for: the same ten as the live `current` request. */
export const OPEN_METEO_HOURLY_VARIABLES: readonly OpenMeteoVariable[] = OPEN_METEO_CURRENT_VARIABLES;

/** Days of past hours the forecast API serves (`past_days` ≤ 92); older hours come from the archive. */
export const OPEN_METEO_FORECAST_PAST_DAYS = 92;

const series = z.array(z.nullable(z.number()));

/** One location's hourly success body (the whole body for one coordinate, one element for several). */
export const openMeteoHourlyLocationSchema = z.object({
  ...openMeteoLocationFields,
  hourly_units: z.optional(z.record(z.string(), z.string())),
  hourly: z.object({
    time: z.array(
      z
        .string()
        .check(z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/, "must be local time like 2026-10-03T12:00")),
    ),
    temperature_2m: z.optional(series),
    relative_humidity_2m: z.optional(series),
    apparent_temperature: z.optional(series),
    precipitation: z.optional(series),
    weather_code: z.optional(z.array(z.nullable(z.number().check(z.int())))),
    cloud_cover: z.optional(series),
    pressure_msl: z.optional(series),
    wind_speed_10m: z.optional(series),
    wind_direction_10m: z.optional(series),
    wind_gusts_10m: z.optional(series),
  }),
});
export type OpenMeteoHourlyLocation = z.infer<typeof openMeteoHourlyLocationSchema>;

/** Where the two endpoints live: OPEN_METEO_BASE_URL and OPEN_METEO_ARCHIVE_URL (the simulator: both its URL). */
export interface OpenMeteoHistoryOptions {
  baseUrl: string;
  archiveUrl: string;
}

/** Open-Meteo's history behind {@link HistorySupport}. */
export function openMeteoHistory(opts: OpenMeteoHistoryOptions): HistorySupport {
  return {
    variables: OPEN_METEO_HOURLY_VARIABLES,
    recentDays: OPEN_METEO_FORECAST_PAST_DAYS,
    request(sites, window) {
      const url = openMeteoHistoryUrl(opts, sites, window);
      // Keyless: nothing to redact.
      return { url, redactedUrl: url };
    },
    parse: parseOpenMeteoHourly,
  };
}

/**
 * The URL for `sites` over [from, to]: the forecast API with `start_hour`/`end_hour`, or the archive
 * with the calendar days (UTC) the hours fall on.
 */
export function openMeteoHistoryUrl(
  opts: OpenMeteoHistoryOptions,
  sites: Site[],
  window: { from: Interval; to: Interval; endpoint: HistoryEndpoint },
): string {
  if (sites.length === 0) throw new RangeError("open-meteo: a request needs at least one site");
  // Commas stay literal, as in the live URL: documented comma-separated lists, readable in raw.
  const lat = sites.map((s) => String(s.lat)).join(",");
  const lon = sites.map((s) => String(s.lon)).join(",");
  const hourly = OPEN_METEO_HOURLY_VARIABLES.join(",");
  const common = `latitude=${lat}&longitude=${lon}&hourly=${hourly}`;
  const tail = "wind_speed_unit=ms&timezone=GMT";
  if (window.endpoint === "forecast") {
    const base = opts.baseUrl.replace(/\/+$/, "");
    return `${base}/v1/forecast?${common}&start_hour=${window.from}:00&end_hour=${window.to}:00&${tail}`;
  }
  const base = opts.archiveUrl.replace(/\/+$/, "");
  return `${base}/v1/archive?${common}&start_date=${window.from.slice(0, 10)}&end_date=${window.to.slice(0, 10)}&${tail}`;
}

/**
 * The kind of the observations an envelope's URL asked for: `forecast` from `/v1/forecast`,
 * `archive` from `/v1/archive`; undefined for anything else. Read from the landed URL, so a replay
 * labels rows exactly as the fetch did.
 */
export function historyKindOf(url: string): ObservationKind | undefined {
  const path = new URL(url).pathname.replace(/\/+$/, "");
  if (path.endsWith("/v1/forecast")) return "forecast";
  if (path.endsWith("/v1/archive")) return "archive";
  return undefined;
}

/** Per-site observations for the hours of one history envelope's range. Pure. */
export function parseOpenMeteoHourly(envelope: RawEnvelope): SiteHistoryResult[] {
  const kind = historyKindOf(envelope.url);
  if (!kind || !envelope.range) {
    const what = kind ? "no range" : `URL path ${new URL(envelope.url).pathname}`;
    return quarantineAll(
      envelope,
      `not an Open-Meteo history envelope (${what}; expected /v1/forecast or /v1/archive with a range)`,
      bodyExcerpt(envelope.body),
    );
  }
  const located = locationElements(envelope);
  if (!located.ok) return located.results;
  const request = requestOf(envelope.url, "hourly");
  const hours = {
    from: intervalStart(envelope.range.from).getTime(),
    end: intervalStart(addHours(envelope.range.to, 1)).getTime(),
  };
  const n = envelope.sites.length;
  return envelope.sites.map((site, i) =>
    parseHourlyLocation(site, located.elements[i], request, n > 1 ? `[${i}]` : "", kind, hours),
  );
}

function parseHourlyLocation(
  site: Site,
  element: unknown,
  request: RequestShape,
  at: string,
  kind: ObservationKind,
  hours: { from: number; end: number },
): SiteHistoryResult {
  const quarantine = (reason: string): SiteHistoryResult => ({
    siteId: site.id,
    status: "quarantined",
    reason,
    payload: element,
  });
  const parsed = openMeteoHourlyLocationSchema.safeParse(element);
  if (!parsed.success) return quarantine(contractReason(parsed.error, at));
  const loc = parsed.data;
  const prefix = at ? `${at}.` : "";
  const table = loc.hourly as unknown as Record<string, (number | null)[] | undefined>;
  const missing = OPEN_METEO_HOURLY_VARIABLES.filter((v) => request.requested.has(v) && !table[v]);
  if (missing.length > 0) {
    const fields = missing.map((v) => `${prefix}hourly.${v}`).join(", ");
    return quarantine(`schema drift: ${fields}: requested but missing`);
  }
  const times = loc.hourly.time;
  const present = OPEN_METEO_HOURLY_VARIABLES.filter((v) => table[v] !== undefined);
  for (const v of present) {
    const length = table[v]?.length ?? 0;
    if (length !== times.length) {
      return quarantine(`schema drift: ${prefix}hourly.${v}: length ${length}, expected ${times.length}`);
    }
  }
  if (!nearby(site, loc.latitude, loc.longitude)) return quarantine(notNearby(site, loc, at));

  const read = measurementsReader(loc.hourly_units, request, at, "hourly");
  const observations: Observation[] = [];
  try {
    for (const [i, time] of times.entries()) {
      const observedAt = localToUtc(time, loc.utc_offset_seconds);
      const t = observedAt.getTime();
      if (!(t >= hours.from && t < hours.end)) continue;
      if (t % 3_600_000 !== 0) {
        return quarantine(`schema drift: ${prefix}hourly.time[${i}]: ${time} is not on a UTC hour`);
      }
      const readings: OpenMeteoReadings = {};
      let values = 0;
      for (const v of present) {
        const x = table[v]?.[i] ?? null;
        readings[v] = x;
        if (x !== null) values += 1;
      }
      // An hour without any value is no observation: coverage keeps it missing, so heal retries it.
      if (values === 0) continue;
      const m = read(readings);
      observations.push({
        siteId: site.id,
        source: "open-meteo",
        kind,
        observedAt,
        ...m,
        precipitationWindowMinutes: m.precipitationMm === null ? null : 60,
        // The hour's row of the table; the raw object keeps the whole body (units, metadata).
        payload: { time, ...readings },
      });
    }
  } catch (error) {
    if (error instanceof UnitError) return quarantine(error.message);
    throw error;
  }
  return { siteId: site.id, status: "ok", observations };
}
