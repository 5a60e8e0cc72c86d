/**
 * A loopback weather API simulator that speaks both providers' wire formats on one port:
 *
 * - Open-Meteo  `GET /v1/forecast?latitude=a,b&longitude=c,d&current=...&wind_speed_unit=ms&timezone=auto`
 *   (one object for one coordinate, an array in request order for several, `location_id` on elements
 *   after the first; `current.time` is the local 15-minute slot of the clock instant and its
 *   precipitation the 15 minutes before it; 400 `{"error":true,"reason":...}` on bad input, with the
 *   real server's texts);
 * - Open-Meteo hourly history on the same path: `&hourly=<vars>` with `past_days` (0..93) and
 *   `forecast_days` (0..16, default 7), or `start_date`/`end_date` (local `YYYY-MM-DD`, today − 93 to
 *   today + 15) or `start_hour`/`end_hour` (`YYYY-MM-DDTHH:MM`), `past_hours`/`forecast_hours`; answers
 *   `hourly_units` + `hourly: { time: [...], <var>: [...] }` (local whole hours; may come with
 *   `current=`). Hour H carries the model at instant H (so it equals a `current` read at the top of H);
 *   precipitation is the sum over the preceding hour. Window rules and texts: `open-meteo-time.ts`;
 * - Open-Meteo Historical Weather API `GET /v1/archive?...&start_date=&end_date=&hourly=...` (dates
 *   1940-01-01 to UTC today, as the real server; hours after the archive delay, default 5 days, are
 *   null; `current=` is ignored, as there): the same shape, values from the model's "reanalysis"
 *   variant (temperature ±0.3 °C, pressure ±0.5 hPa against the forecast path, deterministic);
 * - OpenWeatherMap `GET /data/2.5/weather?lat=..&lon=..&units=metric&appid=KEY` (`dt` = the clock
 *   floored to 10 minutes; 401 with numeric `cod` on a missing/wrong key, 400 with string `cod` on bad
 *   coordinates).
 *
 * Values come from `weather-model.ts`, a pure function of (lat, lon, instant), so the same clock gives
 * byte-identical bodies. Time zones: with `timezone=auto` the offset is round(lon / 15) hours (a fake's
 * guess; real zones are political), with a named IANA zone the real offset at that instant (so tests can
 * ask for Asia/Kathmandu's +05:45), and without `timezone` GMT, as the real API defaults.
 *
 * Fault rules make failures deterministic and apply to every path alike (select one with `path`): see
 * {@link FaultRule}. {@link SimulatorStats} counts by status, by path and Open-Meteo weighted calls. Used by tests, the benchmark and
 * `weather ingest --source simulator`; never the default source.
 *
 * CLI: `node --import tsx simulator/server.ts --port 8787 [--latency-ms 50] [--api-key KEY]
 * [--archive-delay-days 5]`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  type HourlyWindow,
  hourlyWindow,
  type OpenMeteoEndpoint,
  OpenMeteoParamError,
  parseIsoDate,
  parseIsoDateTime,
  type StartEnd,
  startEndRanges,
  type TimeParams,
  utcDay,
} from "./open-meteo-time.ts";
import {
  owmCondition,
  precipitationMm,
  type SimulatedWeather,
  sunTimes,
  weatherAt,
} from "./weather-model.ts";

export type SimulatedApi = "open-meteo" | "openweather";

export const OPEN_METEO_PATH = "/v1/forecast";
/** The Historical Weather API's path (on archive-api.open-meteo.com in reality; on the same port here). */
export const OPEN_METEO_ARCHIVE_PATH = "/v1/archive";
export const OPENWEATHER_PATH = "/data/2.5/weather";

/** What a matching request suffers. */
export type Fault =
  /** Extra delay before the answer; adds up with the server's base latency and other latency rules. */
  | { kind: "latency"; ms: number }
  /**
   * 429 with `Retry-After` (delta-seconds, or an HTTP-date string); omit retryAfter for no header (the
   * real Open-Meteo sends none). `window` picks Open-Meteo's text for the exhausted quota (default minutely).
   */
  | { kind: "rate-limit"; retryAfter?: number | string; window?: "minutely" | "hourly" | "daily" }
  /** A 5xx (default 500) with the API's error body. */
  | { kind: "server-error"; status?: number }
  /** Any status with the API's error body for it (e.g. OWM 404 `{"cod":"404","message":"city not found"}`). */
  | { kind: "status"; status: number; message?: string }
  /** Accepts the request and never answers, until the client gives up or the server closes. */
  | { kind: "hang" }
  /** HTTP 200 whose body is cut-off JSON. */
  | { kind: "malformed-json" }
  /**
   * HTTP 200 whose body breaks the contract at `field` (dot path; default `hourly.temperature_2m` for an
   * Open-Meteo request with `hourly=`, else `current.temperature_2m`, and `main.temp` for OpenWeatherMap):
   * renamed to `renameTo` (default `<name>_v2`), turned into a string, or removed. A path may end in an
   * array index (`hourly.temperature_2m.3`: that hour's value becomes a string, or null when removed).
   * For an Open-Meteo batch with `at`, only that site's element drifts.
   */
  | { kind: "schema-drift"; field?: string; change?: "rename" | "type" | "remove"; renameTo?: string }
  /**
   * HTTP 200 whose body streams `bytes` bytes (a runaway JSON array of the normal answer, never closed)
   * in chunks, honouring backpressure and stopping as soon as the client hangs up — so a 200 MB body
   * costs the simulator almost nothing and {@link SimulatorStats.bodyBytesSent} shows where the client stopped.
   */
  | { kind: "oversized-body"; bytes: number }
  /**
   * Echoes the request back, as careless servers do: the answer (normal, or the API's error body for
   * `status`) gains fields holding the request URL and the `appid` literally, URL-encoded
   * (`encodeURIComponent`, lower-case hex, `encodeURI` and form style), JSON-escaped (`\uXXXX`, `\/`), in
   * base64 at each byte alignment and base64url; the headers `x-request-url`, `location` and
   * `x-echo-appid-b64` carry the URL and the key too. An error `status` also puts the key and the
   * URL-encoded request in the error message, which ends up in logs and exceptions.
   */
  | { kind: "echo-request"; status?: number };

/**
 * One fault rule. All given matchers must match; rules are checked in order. Every matching latency
 * rule adds its delay; the first matching non-latency rule decides the answer.
 */
export interface FaultRule {
  /** Only this API. */
  api?: SimulatedApi;
  /** Only this exact path, e.g. `/v1/forecast` or `/v1/archive` (both are `api: "open-meteo"`). */
  path?: string;
  /** Only requests that include this coordinate (for Open-Meteo: anywhere in the batch). */
  at?: { lat: number; lon: number };
  /** Only the first N matching requests; every matching request when omitted. */
  times?: number;
  fault: Fault;
}

export interface SimulatorOptions {
  port?: number;
  host?: "127.0.0.1";
  /** Base latency for every request, ms. */
  latencyMs?: number;
  /** The instant the weather is computed for; defaults to the real clock. */
  clock?: () => Date;
  faults?: FaultRule[];
  /** The OWM key accepted; when omitted any non-empty `appid` is accepted. Missing/wrong → 401. */
  apiKey?: string;
  /**
   * Open-Meteo archive: hours after the end of the UTC day this many days before the clock's have no
   * data yet and answer null (default 5, the ERA5 delay the docs name).
   */
  archiveDelayDays?: number;
}

export interface SimulatorStats {
  requests: number;
  /** Answers by status code (as a string); requests left hanging count under `"hang"`. */
  byStatus: Record<string, number>;
  /** Body bytes handed to sockets, all answers together (streamed bodies count what was written). */
  bodyBytesSent: number;
  /** Requests and answers by path (`/v1/forecast`, `/v1/archive`, `/data/2.5/weather`, others). */
  byPath: Record<string, { requests: number; byStatus: Record<string, number> }>;
  /**
   * Open-Meteo weighted calls, as the real server bills them (ForecastApiResult.calculateQueryWeight):
   * per location max(1, v/10 × max(1, days/14)), v = current + hourly variables, days = the window's
   * days (0 for start_hour/end_hour alone). Counted for every valid request, faults included.
   */
  openMeteoWeightedCalls: number;
}

export interface Simulator {
  /** Base URL, e.g. `http://127.0.0.1:41234` (use it as either provider's base URL). */
  url: string;
  close(): Promise<void>;
  stats(): SimulatorStats;
  /** Replaces the fault rules and resets their counters. */
  setFaults(rules: FaultRule[]): void;
}

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
  /** A body too large to build: written chunk by chunk instead of `body`. */
  stream?: () => Iterable<string>;
}

const CONTENT_TYPE = "application/json; charset=utf-8";

/** Starts the simulator on loopback; resolves once it listens. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const host = opts.host ?? "127.0.0.1";
  const clock = opts.clock ?? (() => new Date());
  const baseLatency = opts.latencyMs ?? 0;
  let rules: { rule: FaultRule; used: number }[] = [];
  const setFaults = (next: FaultRule[]) => {
    rules = next.map((rule) => ({ rule, used: 0 }));
  };
  setFaults(opts.faults ?? []);
  const stats: SimulatorStats = {
    requests: 0,
    byStatus: {},
    bodyBytesSent: 0,
    byPath: {},
    openMeteoWeightedCalls: 0,
  };
  const pathStats = (path: string) => {
    const known = apiOf(path) !== undefined ? path : "other";
    stats.byPath[known] ??= { requests: 0, byStatus: {} };
    return stats.byPath[known];
  };
  const count = (key: string, path: string) => {
    stats.byStatus[key] = (stats.byStatus[key] ?? 0) + 1;
    const p = pathStats(path);
    p.byStatus[key] = (p.byStatus[key] ?? 0) + 1;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests += 1;
    const url = new URL(req.url ?? "/", "http://simulator");
    pathStats(url.pathname).requests += 1;
    const api = apiOf(url.pathname);
    const now = clock();
    let reply: Reply | "hang";
    let delay = baseLatency;

    if (req.method !== "GET" || api === undefined) {
      reply = json(404, { error: true, reason: `Not found: ${req.method} ${url.pathname}` });
    } else {
      const request =
        api === "open-meteo"
          ? openMeteoRequest(url.pathname, url.searchParams, now, opts)
          : owmRequest(url.searchParams, opts);
      if ("error" in request) reply = request.error;
      else {
        if (request.api === "open-meteo") stats.openMeteoWeightedCalls += request.weight;
        const coords = request.coords;
        const matching = rules.filter(({ rule, used }) => matches(rule, api, url.pathname, coords, used));
        let decided: FaultRule | undefined;
        for (const entry of matching) {
          if (entry.rule.fault.kind === "latency") {
            delay += entry.rule.fault.ms;
            entry.used += 1;
          } else if (!decided) {
            decided = entry.rule;
            entry.used += 1;
          }
        }
        reply = decided ? faultReply(decided, api, request, now, url) : normalReply(api, request, now);
      }
    }

    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (reply === "hang") {
      count("hang", url.pathname);
      return;
    }
    count(String(reply.status), url.pathname);
    res.writeHead(reply.status, { "content-type": CONTENT_TYPE, ...reply.headers });
    if (reply.stream) {
      await streamBody(res, reply.stream(), (n) => {
        stats.bodyBytesSent += n;
      });
      return;
    }
    stats.bodyBytesSent += Buffer.byteLength(reply.body);
    res.end(reply.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      count("500", new URL(req.url ?? "/", "http://simulator").pathname);
      if (!res.headersSent) res.writeHead(500, { "content-type": CONTENT_TYPE });
      res.end(JSON.stringify({ error: true, reason: `simulator bug: ${(error as Error).message}` }));
    });
  });
  // Many short requests from one client: keep sockets around longer than undici's 4 s idle default.
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host}:${port}`,
    stats: () => ({
      requests: stats.requests,
      byStatus: { ...stats.byStatus },
      bodyBytesSent: stats.bodyBytesSent,
      byPath: Object.fromEntries(
        Object.entries(stats.byPath).map(([k, v]) => [
          k,
          { requests: v.requests, byStatus: { ...v.byStatus } },
        ]),
      ),
      openMeteoWeightedCalls: stats.openMeteoWeightedCalls,
    }),
    setFaults,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Hanging requests and idle keep-alive sockets would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

/** Writes chunks while the client reads: waits for `drain`, stops when the connection goes away. */
async function streamBody(res: ServerResponse, chunks: Iterable<string>, sent: (bytes: number) => void) {
  let closed = res.destroyed;
  res.once("close", () => {
    closed = true;
  });
  for (const chunk of chunks) {
    if (closed) return;
    const bytes = Buffer.from(chunk);
    sent(bytes.byteLength);
    if (!res.write(bytes)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    }
  }
  if (!closed) res.end();
}

function apiOf(path: string): SimulatedApi | undefined {
  if (path === OPEN_METEO_PATH || path === OPEN_METEO_ARCHIVE_PATH) return "open-meteo";
  if (path === OPENWEATHER_PATH) return "openweather";
  return undefined;
}

function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(body), ...(headers ? { headers } : {}) };
}

function matches(rule: FaultRule, api: SimulatedApi, path: string, coords: Coord[], used: number): boolean {
  if (rule.times !== undefined && used >= rule.times) return false;
  if (rule.api !== undefined && rule.api !== api) return false;
  if (rule.path !== undefined && rule.path !== path) return false;
  if (rule.at !== undefined && !coords.some((c) => sameCoord(c, rule.at as Coord))) return false;
  return true;
}

interface Coord {
  lat: number;
  lon: number;
}
const sameCoord = (a: Coord, b: Coord) => Math.abs(a.lat - b.lat) < 1e-6 && Math.abs(a.lon - b.lon) < 1e-6;

// ---------------------------------------------------------------------------------------------------
// Open-Meteo

const OM_VARIABLES = new Set([
  "temperature_2m",
  "relative_humidity_2m",
  "apparent_temperature",
  "precipitation",
  "rain",
  "snowfall",
  "weather_code",
  "cloud_cover",
  "pressure_msl",
  "surface_pressure",
  "wind_speed_10m",
  "wind_direction_10m",
  "wind_gusts_10m",
  "is_day",
]);

interface OmLocation {
  coord: Coord;
  /** Index in the coordinate list; the real API writes `location_id` when it is not 0. */
  locationId: number;
  zone: { name: string; abbr: string; offset: number };
  window?: HourlyWindow;
}

interface OpenMeteoRequest {
  api: "open-meteo";
  endpoint: OpenMeteoEndpoint;
  coords: Coord[];
  /** One answer element per entry, in order (several dates for one coordinate give several). */
  locations: OmLocation[];
  current: string[];
  hourly: string[];
  windUnit: string;
  temperatureUnit: "celsius" | "fahrenheit";
  precipitationUnit: "mm" | "inch";
  /** Hours at or after this instant have no archive data yet (null), like ERA5's delay. */
  archiveAvailableBeforeMs: number;
  /** Weighted calls as the real server bills this request. */
  weight: number;
}

function omError(reason: string): { error: Reply } {
  return { error: json(400, { error: true, reason }) };
}

const VARIABLE_TYPE =
  "SurfacePressureAndHeightVariable<VariableAndPreviousDay, VariableOrSpread<ForecastPressureVariable>, ForecastHeightVariable>";

/** Variables as the server decodes them: comma lists, repeated parameters allowed; the error echoes the whole value. */
function omVariables(q: URLSearchParams, name: string): string[] | { error: Reply } {
  const out: string[] = [];
  for (const value of q.getAll(name)) {
    const parts = value.split(",").filter((s) => s !== "");
    if (parts.some((v) => !OM_VARIABLES.has(v))) {
      return omError(
        `Data corrupted at path ''. Cannot initialize ${VARIABLE_TYPE} from invalid String value ${value}.`,
      );
    }
    out.push(...parts);
  }
  return out;
}

function omInt(q: URLSearchParams, name: string): number | undefined | { error: Reply } {
  const text = q.get(name);
  if (text === null) return undefined;
  if (!/^-?\d+$/.test(text)) {
    return omError(
      `Data corrupted at path '${name}'. Cannot initialize Int from invalid String value ${text}.`,
    );
  }
  return Number(text);
}

function openMeteoRequest(
  path: string,
  q: URLSearchParams,
  now: Date,
  opts: SimulatorOptions,
): OpenMeteoRequest | { error: Reply } {
  const endpoint: OpenMeteoEndpoint = path === OPEN_METEO_ARCHIVE_PATH ? "archive" : "forecast";
  const lats = (q.get("latitude") ?? "").split(",").filter((s) => s !== "");
  const lons = (q.get("longitude") ?? "").split(",").filter((s) => s !== "");
  if (lats.length === 0 || lons.length === 0)
    return omError("Parameter 'latitude' and 'longitude' are required");
  if (lats.length !== lons.length) {
    return omError("Parameter 'latitude' and 'longitude' must have the same number of elements");
  }
  const coords: Coord[] = [];
  for (const [i, latText] of lats.entries()) {
    const lat = Number(latText);
    const lon = Number(lons[i]);
    if (!Number.isFinite(lat) || lat < -90 || lat > 90) {
      return omError(`Latitude must be in range of -90 to 90°. Given: ${latText}.`);
    }
    if (!Number.isFinite(lon) || lon < -180 || lon > 180) {
      return omError(`Longitude must be in range of -180 to 180°. Given: ${lons[i]}.`);
    }
    coords.push({ lat, lon });
  }
  // The archive API has no current block: the real server ignores `current=` there.
  const current = endpoint === "archive" ? [] : omVariables(q, "current");
  if ("error" in current) return current;
  const hourly = omVariables(q, "hourly");
  if ("error" in hourly) return hourly;
  const windUnit = q.get("wind_speed_unit") ?? q.get("windspeed_unit") ?? "kmh";
  if (!["kmh", "ms", "mph", "kn"].includes(windUnit)) {
    return omError(
      `Data corrupted at path ''. Cannot initialize WindspeedUnit from invalid String value ${windUnit}.`,
    );
  }
  const timezone = q.get("timezone") ?? undefined;
  if (timezone !== undefined && timezone !== "auto" && !isTimeZone(timezone)) {
    return omError("Invalid timezone");
  }
  const ints: Partial<Record<"past_days" | "forecast_days" | "past_hours" | "forecast_hours", number>> = {};
  for (const name of ["past_days", "forecast_days", "past_hours", "forecast_hours"] as const) {
    const v = omInt(q, name);
    if (typeof v === "object") return v;
    if (v !== undefined) ints[name] = v;
  }
  let locations: OmLocation[];
  try {
    const list = (name: string, parse: (s: string) => number) =>
      q.getAll(name).flatMap((v) =>
        v
          .split(",")
          .filter((s) => s !== "")
          .map(parse),
      );
    const params: TimeParams = {
      startDate: list("start_date", parseIsoDate),
      endDate: list("end_date", parseIsoDate),
      startHour: list("start_hour", parseIsoDateTime),
      endHour: list("end_hour", parseIsoDateTime),
      ...(ints.past_days !== undefined ? { pastDays: ints.past_days } : {}),
      ...(ints.forecast_days !== undefined ? { forecastDays: ints.forecast_days } : {}),
      ...(ints.past_hours !== undefined ? { pastHours: ints.past_hours } : {}),
      ...(ints.forecast_hours !== undefined ? { forecastHours: ints.forecast_hours } : {}),
    };
    const ranges = startEndRanges(params);
    let pairs: [number, StartEnd | undefined][];
    if (ranges.length === 0) pairs = coords.map((_, i) => [i, undefined]);
    else if (ranges.length === 1) pairs = coords.map((_, i) => [i, ranges[0]]);
    else if (coords.length === 1) pairs = ranges.map((range) => [0, range]);
    else if (ranges.length === coords.length) pairs = coords.map((_, i) => [i, ranges[i]]);
    else {
      throw new OpenMeteoParamError(
        "Parameter 'start_date' and 'end_date' must have the same number of elements as coordinates",
      );
    }
    locations = pairs.map(([i, range]) => {
      const coord = coords[i] as Coord;
      const zone = zoneOf(timezone, coord.lon, now);
      const location: OmLocation = { coord, locationId: i, zone };
      // Time ranges are checked for every request, as the server does, even one without `hourly=`.
      const window = hourlyWindow(endpoint, now.getTime(), zone.offset, params, range);
      if (hourly.length > 0) location.window = window;
      return Object.assign(location, { days: window.days });
    });
  } catch (error) {
    if (error instanceof OpenMeteoParamError) return omError(error.message);
    throw error;
  }
  const nVariables = current.length + hourly.length;
  // ForecastApiResult.calculateQueryWeight: per location max(1, max(v/10, v/10 × days/14)).
  const weight = locations.reduce((sum, l) => {
    const v = nVariables / 10;
    const days = (l as OmLocation & { days: number }).days;
    return sum + Math.max(1, Math.max(v, (v * days) / 14));
  }, 0);
  const delayDays = opts.archiveDelayDays ?? 5;
  return {
    api: "open-meteo",
    endpoint,
    coords,
    locations,
    current,
    hourly,
    windUnit,
    temperatureUnit: q.get("temperature_unit") === "fahrenheit" ? "fahrenheit" : "celsius",
    precipitationUnit: q.get("precipitation_unit") === "inch" ? "inch" : "mm",
    archiveAvailableBeforeMs: utcDay(now.getTime()) - (delayDays - 1) * 86_400_000,
    weight,
  };
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The zone the answer is in: name, abbreviation and offset in seconds at `at`. */
function zoneOf(
  timezone: string | undefined,
  lon: number,
  at: Date,
): { name: string; abbr: string; offset: number } {
  if (timezone === undefined || timezone === "GMT" || timezone === "UTC") {
    return { name: "GMT", abbr: "GMT", offset: 0 };
  }
  if (timezone === "auto") {
    const hours = Math.round(lon / 15) || 0;
    if (hours === 0) return { name: "GMT", abbr: "GMT", offset: 0 };
    // POSIX-style Etc zones have the sign inverted: UTC+2 is Etc/GMT-2.
    const name = `Etc/GMT${hours > 0 ? "-" : "+"}${Math.abs(hours)}`;
    return { name, abbr: `GMT${hours > 0 ? "+" : "-"}${Math.abs(hours)}`, offset: hours * 3600 };
  }
  const part = new Intl.DateTimeFormat("en-US", { timeZone: timezone, timeZoneName: "longOffset" })
    .formatToParts(at)
    .find((p) => p.type === "timeZoneName")?.value;
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(part ?? "");
  const offset = m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
  const abbr =
    new Intl.DateTimeFormat("en-US", { timeZone: timezone, timeZoneName: "short" })
      .formatToParts(at)
      .find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  return { name: timezone, abbr, offset };
}

const POWERS_OF_TEN = [1, 10, 100, 1000, 10_000];

/** `x` rounded to `decimals` places (0..4). */
function r(x: number, decimals: number): number {
  const f = POWERS_OF_TEN[decimals] ?? 10 ** decimals;
  return Math.round(x * f) / f;
}

/** Local wall time `YYYY-MM-DDTHH:MM` of a UTC instant at an offset. */
function localIso(utcMs: number, offsetSeconds: number): string {
  return new Date(utcMs + offsetSeconds * 1000).toISOString().slice(0, 16);
}

type Values = Record<string, [string, number]>;

const WIND_UNIT_LABELS: Record<string, string> = { kmh: "km/h", ms: "m/s", mph: "mp/h", kn: "kn" };

function omTemperature(req: OpenMeteoRequest, c: number): number {
  return r(req.temperatureUnit === "fahrenheit" ? (c * 9) / 5 + 32 : c, 1);
}

function omWind(req: OpenMeteoRequest, ms: number): number {
  switch (req.windUnit) {
    case "ms":
      return r(ms, 2);
    case "mph":
      return r(ms / 0.44704, 1);
    case "kn":
      return r((ms * 3600) / 1852, 1);
    default:
      return r(ms * 3.6, 1);
  }
}

function omPrecipitation(req: OpenMeteoRequest, mm: number): number {
  return req.precipitationUnit === "inch" ? r(mm / 25.4, 3) : r(mm, 2);
}

/**
 * One variable's value for one state and one precipitation amount (mm over the block's window), in the
 * request's units; undefined for a name the simulator does not know. A switch, not an object of all
 * variables, because the hourly path calls it once per (site, hour, variable).
 */
function omValue(
  req: OpenMeteoRequest,
  v: string,
  w: SimulatedWeather,
  precipMm: number,
): number | undefined {
  switch (v) {
    case "temperature_2m":
      return omTemperature(req, w.temperatureC);
    case "relative_humidity_2m":
      return w.humidityPct;
    case "apparent_temperature":
      return omTemperature(req, w.apparentC);
    case "precipitation":
      return omPrecipitation(req, precipMm);
    case "rain":
      return w.temperatureC > 0 ? omPrecipitation(req, precipMm) : 0;
    case "snowfall":
      return w.temperatureC > 0 ? 0 : r(precipMm * 0.7, 2);
    case "weather_code":
      return w.wmoCode;
    case "cloud_cover":
      return w.cloudPct;
    case "pressure_msl":
      return r(w.pressureHpa, 1);
    case "surface_pressure":
      return r(w.pressureHpa - w.elevationM / 8.3, 1);
    case "wind_speed_10m":
      return omWind(req, w.windMs);
    case "wind_direction_10m":
      return w.windDirectionDeg;
    case "wind_gusts_10m":
      return omWind(req, w.gustMs);
    case "is_day":
      return w.isDay ? 1 : 0;
    default:
      return undefined;
  }
}

/** Every variable's unit and value for one state and one precipitation amount (mm over the block's window). */
function omValues(req: OpenMeteoRequest, w: SimulatedWeather, precipMm: number): Values {
  const tempUnit = req.temperatureUnit === "fahrenheit" ? "°F" : "°C";
  const windUnitLabel = WIND_UNIT_LABELS[req.windUnit] ?? "km/h";
  const precipUnit = req.precipitationUnit === "inch" ? "inch" : "mm";
  const units: Record<string, string> = {
    temperature_2m: tempUnit,
    relative_humidity_2m: "%",
    apparent_temperature: tempUnit,
    precipitation: precipUnit,
    rain: precipUnit,
    snowfall: "cm",
    weather_code: "wmo code",
    cloud_cover: "%",
    pressure_msl: "hPa",
    surface_pressure: "hPa",
    wind_speed_10m: windUnitLabel,
    wind_direction_10m: "°",
    wind_gusts_10m: windUnitLabel,
    is_day: "",
  };
  const values: Values = {};
  for (const [v, unit] of Object.entries(units)) values[v] = [unit, omValue(req, v, w, precipMm) ?? 0];
  return values;
}

function openMeteoLocation(req: OpenMeteoRequest, loc: OmLocation, now: Date): Record<string, unknown> {
  const c = loc.coord;
  const zone = loc.zone;
  const variant = req.endpoint === "archive" ? "reanalysis" : "forecast";
  const meta = weatherAt(c.lat, c.lon, now);
  const body: Record<string, unknown> = {
    // Snapped to a 0.02° grid, as the real API answers with its grid cell's centre.
    latitude: r(Math.round(c.lat / 0.02) * 0.02, 4),
    longitude: r(Math.round(c.lon / 0.02) * 0.02, 4),
    generationtime_ms: 0.042,
    utc_offset_seconds: zone.offset,
    timezone: zone.name,
    timezone_abbreviation: zone.abbr,
    elevation: meta.elevationM,
    ...(loc.locationId !== 0 ? { location_id: loc.locationId } : {}),
  };
  if (req.current.length > 0) {
    // `current` is the 15-minute slot containing now, in local wall time; precipitation is the slot's
    // preceding 15 minutes, as Open-Meteo's 15-minutely sums are.
    const slotMs = Math.floor((now.getTime() + zone.offset * 1000) / 900_000) * 900_000 - zone.offset * 1000;
    const slot = new Date(slotMs);
    const values = omValues(req, weatherAt(c.lat, c.lon, slot), precipitationMm(c.lat, c.lon, slot, 15));
    const units: Record<string, string> = { time: "iso8601", interval: "seconds" };
    const current: Record<string, unknown> = { time: localIso(slotMs, zone.offset), interval: 900 };
    for (const v of req.current) {
      const [unit, value] = values[v] ?? ["", 0];
      units[v] = unit;
      current[v] = value;
    }
    body.current_units = units;
    body.current = current;
  }
  if (req.hourly.length > 0 && loc.window) {
    const { labelsMs, readMs } = loc.window;
    const units: Record<string, string> = { time: "iso8601" };
    const unitLabels = omValues(req, UNIT_PROBE, 0);
    for (const v of req.hourly) units[v] = unitLabels[v]?.[0] ?? "";
    const vars = req.hourly;
    const columns: (number | null)[][] = vars.map(() => new Array(labelsMs.length));
    for (let i = 0; i < readMs.length; i++) {
      const at = readMs[i] as number;
      const available = req.endpoint === "forecast" || at < req.archiveAvailableBeforeMs;
      if (!available) {
        for (const column of columns) column[i] = null;
        continue;
      }
      const instant = new Date(at);
      const w = weatherAt(c.lat, c.lon, instant, variant);
      const precipMm = precipitationMm(c.lat, c.lon, instant, 60);
      for (let j = 0; j < vars.length; j++) {
        (columns[j] as (number | null)[])[i] = omValue(req, vars[j] as string, w, precipMm) ?? null;
      }
    }
    const hourly: Record<string, unknown> = {
      time: labelsMs.map((ms) => new Date(ms).toISOString().slice(0, 16)),
    };
    for (const [j, v] of req.hourly.entries()) hourly[v] = columns[j];
    body.hourly_units = units;
    body.hourly = hourly;
  }
  return body;
}

/** Any state: only the unit labels of its values are read. */
const UNIT_PROBE: SimulatedWeather = weatherAt(0, 0, new Date(0));

// ---------------------------------------------------------------------------------------------------
// OpenWeatherMap

interface OwmRequest {
  api: "openweather";
  coords: Coord[];
  units: "standard" | "metric" | "imperial";
}

function owmRequest(q: URLSearchParams, opts: SimulatorOptions): OwmRequest | { error: Reply } {
  const appid = q.get("appid");
  if (!appid || (opts.apiKey !== undefined && appid !== opts.apiKey)) {
    return {
      error: json(401, {
        cod: 401,
        message: "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
      }),
    };
  }
  const latText = q.get("lat");
  const lonText = q.get("lon");
  if (latText === null || lonText === null)
    return { error: json(400, { cod: "400", message: "Nothing to geocode" }) };
  const lat = Number(latText);
  const lon = Number(lonText);
  if (latText === "" || !Number.isFinite(lat) || lat < -90 || lat > 90) {
    return { error: json(400, { cod: "400", message: "wrong latitude" }) };
  }
  if (lonText === "" || !Number.isFinite(lon) || lon < -180 || lon > 180) {
    return { error: json(400, { cod: "400", message: "wrong longitude" }) };
  }
  const unitsParam = q.get("units");
  const units = unitsParam === "metric" || unitsParam === "imperial" ? unitsParam : "standard";
  return { api: "openweather", coords: [{ lat, lon }], units };
}

function owmBody(req: OwmRequest, now: Date): Record<string, unknown> {
  const c = req.coords[0] as Coord;
  // `dt` is when the data was calculated: the API refreshes at most every 10 minutes.
  const dt = Math.floor(now.getTime() / 600_000) * 600;
  const w: SimulatedWeather = weatherAt(c.lat, c.lon, new Date(dt * 1000));
  const temp = (x: number) =>
    r(req.units === "metric" ? x : req.units === "imperial" ? (x * 9) / 5 + 32 : x + 273.15, 2);
  const speed = (ms: number) => r(req.units === "imperial" ? ms / 0.44704 : ms, 2);
  const condition = owmCondition(w);
  const precip = r(w.precipMmPerHour, 2);
  const offset = (Math.round(c.lon / 15) || 0) * 3600;
  const pressure = Math.round(w.pressureHpa);
  const visibility = w.wmoCode === 45 ? 200 : precip > 0 ? 6000 : 10_000;
  const siteId = Math.floor(Math.abs(c.lat * 1000 + c.lon * 7)) + 1_000_000;
  return {
    coord: { lon: r(c.lon, 4), lat: r(c.lat, 4) },
    weather: [condition],
    base: "stations",
    main: {
      temp: temp(w.temperatureC),
      feels_like: temp(w.apparentC),
      temp_min: temp(w.temperatureC - 0.8),
      temp_max: temp(w.temperatureC + 0.8),
      pressure,
      humidity: w.humidityPct,
      sea_level: pressure,
      grnd_level: Math.round(w.pressureHpa - w.elevationM / 8.3),
    },
    visibility,
    wind: { speed: speed(w.windMs), deg: w.windDirectionDeg, gust: speed(w.gustMs) },
    ...(precip > 0 ? (w.temperatureC > 0 ? { rain: { "1h": precip } } : { snow: { "1h": precip } }) : {}),
    clouds: { all: w.cloudPct },
    dt,
    sys: { type: 2, id: siteId % 100_000, ...sunTimes(c.lat, c.lon, now) },
    timezone: offset,
    id: siteId,
    name: `Sim ${r(c.lat, 2)},${r(c.lon, 2)}`,
    cod: 200,
  };
}

// ---------------------------------------------------------------------------------------------------
// Answers

function normalReply(api: SimulatedApi, req: OpenMeteoRequest | OwmRequest, now: Date): Reply {
  if (req.api === "openweather") return json(200, owmBody(req, now));
  void api;
  const bodies = req.locations.map((l) => openMeteoLocation(req, l, now));
  return json(200, bodies.length === 1 ? bodies[0] : bodies);
}

const OWM_MESSAGES: Record<number, string> = {
  400: "wrong latitude",
  401: "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
  404: "city not found",
  429: "Your account is temporary blocked due to exceeding of requests limitation of your subscription type. Please choose the proper subscription https://openweathermap.org/price",
};

/** RateLimiter.swift's texts, by exhausted window. */
const OM_RATE_LIMIT_REASONS = {
  minutely: "Minutely API request limit exceeded. Please try again in one minute.",
  hourly: "Hourly API request limit exceeded. Please try again in the next hour.",
  daily: "Daily API request limit exceeded. Please try again tomorrow.",
} as const;

/** The API's own error body for a status: OWM's `cod` is a number on 401/429/5xx and a string otherwise. */
function errorReply(
  api: SimulatedApi,
  status: number,
  message?: string,
  headers?: Record<string, string>,
): Reply {
  if (api === "open-meteo") {
    const reason =
      message ??
      (status === 429
        ? OM_RATE_LIMIT_REASONS.minutely
        : status >= 500
          ? "Internal Server Error"
          : "Bad request");
    return json(status, { error: true, reason }, headers);
  }
  const text = message ?? OWM_MESSAGES[status] ?? (status >= 500 ? "Internal error" : "Bad request");
  const numeric = status === 401 || status === 429 || status >= 500;
  return json(status, { cod: numeric ? status : String(status), message: text }, headers);
}

function faultReply(
  rule: FaultRule,
  api: SimulatedApi,
  req: OpenMeteoRequest | OwmRequest,
  now: Date,
  url: URL,
): Reply | "hang" {
  const fault = rule.fault;
  switch (fault.kind) {
    case "latency":
      return normalReply(api, req, now);
    case "hang":
      return "hang";
    case "rate-limit": {
      const headers =
        fault.retryAfter === undefined ? undefined : { "retry-after": String(fault.retryAfter) };
      const reason = api === "open-meteo" && fault.window ? OM_RATE_LIMIT_REASONS[fault.window] : undefined;
      return errorReply(api, 429, reason, headers);
    }
    case "server-error":
      return errorReply(api, fault.status ?? 500);
    case "status":
      return errorReply(api, fault.status, fault.message);
    case "malformed-json": {
      const good = normalReply(api, req, now);
      return { ...good, body: good.body.slice(0, Math.max(1, Math.floor(good.body.length / 2))) };
    }
    case "oversized-body":
      return {
        status: 200,
        body: "",
        stream: () => runawayArray(normalReply(api, req, now).body, fault.bytes),
      };
    case "echo-request":
      return echoReply(api, req, now, url, fault.status);
    case "schema-drift": {
      const field =
        fault.field ??
        (req.api === "openweather"
          ? "main.temp"
          : req.hourly.length > 0
            ? "hourly.temperature_2m"
            : "current.temperature_2m");
      const drift = (obj: Record<string, unknown>) =>
        driftField(obj, field, fault.change ?? "rename", fault.renameTo);
      if (req.api === "openweather") return json(200, drift(owmBody(req, now)));
      const bodies = req.locations.map((l) => {
        const body = openMeteoLocation(req, l, now);
        return rule.at === undefined || sameCoord(l.coord, rule.at) ? drift(body) : body;
      });
      return json(200, bodies.length === 1 ? bodies[0] : bodies);
    }
  }
}

/** `[` then the answer repeated (comma-separated) until `bytes` bytes in all, in chunks of about 64 KiB. */
function* runawayArray(element: string, bytes: number): Generator<string> {
  const unit = `${element},`;
  const perChunk = Math.max(1, Math.floor(65_536 / Buffer.byteLength(unit)));
  const chunk = unit.repeat(perChunk);
  const chunkBytes = Buffer.byteLength(chunk);
  let left = bytes - 1;
  yield "[";
  while (left > 0) {
    if (left >= chunkBytes) {
      yield chunk;
      left -= chunkBytes;
    } else {
      yield " ".repeat(left);
      left = 0;
    }
  }
}

/** See the `echo-request` fault. */
function echoReply(
  api: SimulatedApi,
  req: OpenMeteoRequest | OwmRequest,
  now: Date,
  url: URL,
  status?: number,
): Reply {
  const requestUrl = `${url.pathname}${url.search}`;
  const appid = url.searchParams.get("appid") ?? "";
  const b64 = (text: string, alphabet: "base64" | "base64url" = "base64") =>
    Buffer.from(text, "utf8").toString(alphabet);
  // Base64 of a longer text holds the key at one of three byte alignments: echo all three.
  const aligned = (text: string) => [0, 1, 2].map((pad) => b64(`${" ".repeat(pad)}${text}`));
  const echo: Record<string, unknown> = {
    request_url: requestUrl,
    request_url_b64: aligned(`http://simulator${requestUrl}`),
    appid,
    appid_uri: encodeURIComponent(appid),
    appid_uri_lower: encodeURIComponent(appid).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    appid_encode_uri: encodeURI(appid),
    appid_form: new URLSearchParams({ appid }).toString(),
    appid_b64: aligned(appid),
    appid_b64url: b64(appid, "base64url"),
    appid_uri_b64: b64(encodeURIComponent(appid)),
    appid_uri_b64url: b64(encodeURIComponent(appid), "base64url"),
    note: `key ${appid} accepted`,
  };
  const base =
    status === undefined
      ? normalReply(api, req, now)
      : errorReply(api, status, `${OWM_MESSAGES[status] ?? "Bad request"} (appid ${appid} in ${requestUrl})`);
  const parsed = JSON.parse(base.body) as Record<string, unknown> | Record<string, unknown>[];
  const target = Array.isArray(parsed) ? parsed[0] : parsed;
  if (target) Object.assign(target, echo);
  // The same again as a server with PHP-style escaping writes it: `\/` and `\uXXXX` for non-ASCII.
  const escaped = JSON.stringify(`${requestUrl} ${appid}`)
    .replaceAll("/", "\\/")
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const text = JSON.stringify(parsed);
  const at = Array.isArray(parsed) ? text.indexOf("}") : text.lastIndexOf("}");
  const body = `${text.slice(0, at)},"echo_json_escaped":${escaped}${text.slice(at)}`;
  return {
    status: base.status,
    body,
    headers: {
      "x-request-url": requestUrl,
      location: `http://simulator${requestUrl}`,
      "x-echo-appid-b64": b64(appid),
    },
  };
}

function driftField(
  obj: Record<string, unknown>,
  path: string,
  change: "rename" | "type" | "remove",
  renameTo?: string,
): Record<string, unknown> {
  const keys = path.split(".");
  const last = keys.pop() as string;
  let target: Record<string, unknown> = obj;
  for (const k of keys) {
    const next = target[k];
    if (typeof next !== "object" || next === null) return obj;
    target = next as Record<string, unknown>;
  }
  if (!(last in target)) return obj;
  const value = target[last];
  if (change === "type") target[last] = String(value);
  else {
    delete target[last];
    if (change === "rename") target[renameTo ?? `${last}_v2`] = value;
  }
  return obj;
}

// ---------------------------------------------------------------------------------------------------
// CLI

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "8787" },
      "latency-ms": { type: "string", default: "0" },
      "api-key": { type: "string" },
      "archive-delay-days": { type: "string", default: "5" },
    },
  });
  const sim = await startSimulator({
    port: Number(values.port),
    latencyMs: Number(values["latency-ms"]),
    archiveDelayDays: Number(values["archive-delay-days"]),
    ...(values["api-key"] ? { apiKey: values["api-key"] } : {}),
  });
  process.stderr.write(
    `weather simulator on ${sim.url}\n  Open-Meteo:         ${sim.url}${OPEN_METEO_PATH}\n  Open-Meteo archive: ${sim.url}${OPEN_METEO_ARCHIVE_PATH}\n  OpenWeatherMap:     ${sim.url}${OPENWEATHER_PATH}\nCtrl-C to stop.\n`,
  );
  const stop = () => {
    sim.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  });
}
