/**
 * Open-Meteo's time-window rules for `hourly=` data, ported from the open-meteo server source
 * (Sources/App/Helper/ForecastapiQuery.swift `getTimerange2`, IsoDate/IsoDateTime, and the per-API
 * limits in ForecastapiController.swift, checked 2026-11-23 at commit ba13de1c):
 *
 * - forecast API (`/v1/forecast`): dates allowed from UTC today − 93 days to today + 15 (the error names
 *   both ends); `past_days` 0..93 (the docs say 92, the server and live answers say 93), `forecast_days`
 *   0..16, default 7;
 * - archive API (`/v1/archive`): dates from 1940-01-01 to UTC today; `forecast_days` 0..1, default 1;
 * - `start_date`/`end_date` and `start_hour`/`end_hour` are LOCAL dates/hours of the answer's time zone
 *   and exclude `past_days`/`forecast_days`/`past_hours`/`forecast_hours` (unless 0);
 * - the offset is the zone's offset NOW, for the whole answer (no DST switch inside a window), and data
 *   is read at the offset truncated to whole hours (Kathmandu's 00:00 label reads the UTC hour 19:00).
 */

const DAY = 86_400_000;
const HOUR = 3_600_000;

export type OpenMeteoEndpoint = "forecast" | "archive";

export class OpenMeteoParamError extends Error {}

interface EndpointLimits {
  historyStartMs: number;
  forecastDaysMax: number;
  forecastDaysDefault: number;
}

/** UTC midnight of the clock's day. */
export const utcDay = (ms: number) => Math.floor(ms / DAY) * DAY;

function limits(endpoint: OpenMeteoEndpoint, nowMs: number): EndpointLimits {
  return endpoint === "forecast"
    ? { historyStartMs: utcDay(nowMs) - 93 * DAY, forecastDaysMax: 16, forecastDaysDefault: 7 }
    : { historyStartMs: Date.UTC(1940, 0, 1), forecastDaysMax: 1, forecastDaysDefault: 1 };
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** `2026-11-01` → that date's midnight as a UTC timestamp (a local date, read as if UTC). */
export function parseIsoDate(text: string): number {
  if (text.length !== 10 || text[4] !== "-" || text[7] !== "-") {
    throw new OpenMeteoParamError("Invalid date format. Make sure to use 'YYYY-MM-DD'");
  }
  return dateParts(text);
}

function dateParts(text: string): number {
  const [y, m, d] = [text.slice(0, 4), text.slice(5, 7), text.slice(8, 10)].map((s) =>
    /^\d+$/.test(s) ? Number(s) : Number.NaN,
  ) as [number, number, number];
  if (![y, m, d].every(Number.isFinite)) {
    throw new OpenMeteoParamError("Invalid date format. Make sure to use 'YYYY-MM-DD'");
  }
  if (y < 1900 || y > 2050 || m < 1 || m > 12 || d < 1 || d > 31)
    throw new OpenMeteoParamError("Invalid date");
  // Like the server's timegm: 2026-02-31 rolls over into March.
  return Date.UTC(y, m - 1, d);
}

/** `2026-11-01T13:00` (also `T13`, `T13:00:00`, or a bare date) → local time read as if UTC. */
export function parseIsoDateTime(text: string): number {
  if (text.length < 10 || text.length > 19 || text[4] !== "-" || text[7] !== "-") {
    throw new OpenMeteoParamError("Invalid date format. Make sure to use 'YYYY-MM-DD'");
  }
  const day = dateParts(text.slice(0, 10));
  if (text.length === 10) return day;
  const part = (from: number) => {
    const s = text.slice(from, from + 2);
    if (!/^\d\d$/.test(s))
      throw new OpenMeteoParamError("Invalid date format. Make sure to use 'YYYY-MM-DD'");
    return Number(s);
  };
  if (text[10] !== "T") throw new OpenMeteoParamError("Invalid date format. Make sure to use 'YYYY-MM-DD'");
  const hour = part(11);
  if (hour > 23) throw new OpenMeteoParamError("Invalid date");
  let minute = 0;
  let second = 0;
  if (text.length > 13) {
    if (text[13] !== ":") throw new OpenMeteoParamError("Invalid date format. Make sure to use 'YYYY-MM-DD'");
    minute = part(14);
    if (minute > 59) throw new OpenMeteoParamError("Invalid date");
  }
  if (text.length > 16) {
    if (text[16] !== ":") throw new OpenMeteoParamError("Invalid date format. Make sure to use 'YYYY-MM-DD'");
    second = part(17);
    if (second > 59) throw new OpenMeteoParamError("Invalid date");
  }
  return day + hour * HOUR + minute * 60_000 + second * 1000;
}

/** One location's requested range: local day bounds and/or local hour bounds (inclusive ends). */
export interface StartEnd {
  days?: { start: number; end: number };
  hours?: { start: number; end: number };
}

export interface TimeParams {
  startDate: number[];
  endDate: number[];
  startHour: number[];
  endHour: number[];
  pastDays?: number;
  forecastDays?: number;
  pastHours?: number;
  forecastHours?: number;
}

function ranges(start: number[], end: number[]): { start: number; end: number }[] {
  if (start.length === 0 && end.length === 0) return [];
  if (start.length !== end.length) {
    throw new OpenMeteoParamError(
      "Parameter 'start_date' and 'end_date' must have the same number of elements",
    );
  }
  return start.map((s, i) => {
    const e = end[i] as number;
    if (e < s) throw new OpenMeteoParamError("End-date must be larger or equals than start-date");
    return { start: s, end: e };
  });
}

/** `getStartEndDates`: the per-location ranges, or [] for past/forecast mode. */
export function startEndRanges(p: TimeParams): StartEnd[] {
  const days = ranges(p.startDate, p.endDate);
  const hours = ranges(p.startHour, p.endHour);
  if (days.length === 0 && hours.length === 0) return [];
  for (const [name, value] of [
    ["past_days", p.pastDays],
    ["forecast_days", p.forecastDays],
    ["past_hours", p.pastHours],
    ["forecast_hours", p.forecastHours],
  ] as const) {
    if (value !== undefined && value !== 0) {
      throw new OpenMeteoParamError(
        `Parameter '${name}' is mutually exclusive with 'start_date' and 'end_date'`,
      );
    }
  }
  const n = Math.max(days.length, hours.length);
  return Array.from({ length: n }, (_, i) => ({
    ...(days[i] ? { days: days[i] } : {}),
    ...(hours[i] ? { hours: hours[i] } : {}),
  }));
}

/** The hourly axis of one location: local labels (ms, read as UTC) and the UTC instants whose data they carry. */
export interface HourlyWindow {
  /** Local wall-clock labels, hour by hour, as UTC timestamps of those wall times. */
  labelsMs: number[];
  /** The UTC instant each label's value is read at. */
  readMs: number[];
  /** Days the window spans as the server bills them (0 when only start_hour/end_hour were given). */
  days: number;
}

/** `getTimerange2` for hourly data. Throws {@link OpenMeteoParamError} with the server's texts. */
export function hourlyWindow(
  endpoint: OpenMeteoEndpoint,
  nowMs: number,
  offsetSeconds: number,
  p: TimeParams,
  startEnd: StartEnd | undefined,
): HourlyWindow {
  const lim = limits(endpoint, nowMs);
  const allowedFrom = lim.historyStartMs;
  const allowedTo = utcDay(nowMs) + lim.forecastDaysMax * DAY; // exclusive
  const inAllowed = (ms: number) => ms >= allowedFrom && ms < allowedTo;
  const outOfRange = (name: string) =>
    new OpenMeteoParamError(
      `Parameter '${name}' is out of allowed range from ${isoDay(allowedFrom)} to ${isoDay(allowedTo - DAY)}`,
    );
  // Data is read at the offset truncated to whole hours (Swift integer division truncates toward zero).
  const readOffset = Math.trunc(offsetSeconds / 3600) * 3600;
  let fromLocal: number;
  let toLocal: number; // exclusive, local
  let days: number;
  if (startEnd) {
    const daily = startEnd.days
      ? { from: startEnd.days.start, to: startEnd.days.end + DAY }
      : { from: nowMs, to: nowMs };
    const hourly = startEnd.hours
      ? {
          from: Math.floor(startEnd.hours.start / HOUR) * HOUR,
          to: Math.floor(startEnd.hours.end / HOUR) * HOUR + HOUR,
        }
      : daily;
    if (!inAllowed(daily.from)) throw outOfRange("start_date");
    if (!inAllowed(daily.to - DAY)) throw outOfRange("end_date");
    if (!inAllowed(hourly.from)) throw outOfRange("start_hour");
    if (!inAllowed(hourly.to - HOUR)) throw outOfRange("end_hour");
    fromLocal = hourly.from;
    toLocal = hourly.to;
    days = Math.floor((daily.to - daily.from) / DAY);
  } else {
    const nowLocal = nowMs + readOffset * 1000;
    const steps = (past: number | undefined, forecast: number | undefined, max: number, dflt: number) => {
      const f = forecast ?? dflt;
      // The server echoes the maximum, not the given value, here: a bug kept for fidelity.
      if (f < 0 || f > max) {
        throw new OpenMeteoParamError(`Forecast days is invalid. Allowed range 0 to ${max}. Given ${max}.`);
      }
      const pd = past ?? 0;
      const pastMax = endpoint === "forecast" ? 93 : Math.floor((utcDay(nowMs) - lim.historyStartMs) / DAY);
      const pMax = max === lim.forecastDaysMax * 24 ? pastMax * 24 : pastMax;
      if (pd < 0 || pd > pMax) {
        throw new OpenMeteoParamError(`Past days is invalid. Allowed range 0 to ${pMax}. Given ${pd}.`);
      }
      return { past: pd, forecast: f };
    };
    const dayStart = Math.floor(nowLocal / DAY) * DAY;
    let daily = { from: dayStart, to: dayStart + lim.forecastDaysDefault * DAY };
    if (p.pastDays !== undefined || p.forecastDays !== undefined) {
      const s = steps(p.pastDays, p.forecastDays, lim.forecastDaysMax, lim.forecastDaysDefault);
      daily = { from: dayStart - s.past * DAY, to: dayStart + s.forecast * DAY };
    }
    days = Math.floor((daily.to - daily.from) / DAY);
    if (p.pastHours !== undefined || p.forecastHours !== undefined) {
      const hourStart = Math.floor(nowLocal / HOUR) * HOUR;
      const s = steps(p.pastHours, p.forecastHours, lim.forecastDaysMax * 24, lim.forecastDaysMax * 24);
      fromLocal = hourStart - s.past * HOUR;
      toLocal = hourStart + s.forecast * HOUR;
    } else {
      fromLocal = daily.from;
      toLocal = daily.to;
    }
  }
  const labelsMs: number[] = [];
  const readMs: number[] = [];
  for (let t = fromLocal; t < toLocal; t += HOUR) {
    labelsMs.push(t);
    readMs.push(t - readOffset * 1000);
  }
  return { labelsMs, readMs, days };
}
