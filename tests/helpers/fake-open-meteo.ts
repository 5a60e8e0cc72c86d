/**
 * A fake `fetch` that answers Open-Meteo's history endpoints the way the real API does: `/v1/forecast`
 * with `start_hour`/`end_hour` and `/v1/archive` with `start_date`/`end_date`, `hourly=` variables,
 * comma-separated coordinates (one object for one location, an array in request order for several),
 * `timezone=GMT`, `wind_speed_unit`, and `{"error": true, "reason": ...}` with HTTP 400 for bad requests.
 * Values are a deterministic function of coordinate, hour and variable.
 */

export interface FakeOpenMeteo {
  fetch: typeof fetch;
  /** Every URL asked for, in order. */
  readonly calls: string[];
  /** Answers the next matching requests differently (a status and body), e.g. an archive outage. */
  fail(match: (url: URL) => boolean, status: number, body: string): void;
  /** Rewrites every success body before it is sent (break a contract on purpose). */
  tamper(fn: ((location: Record<string, unknown>, index: number) => void) | null): void;
}

const UNITS: Record<string, string> = {
  time: "iso8601",
  temperature_2m: "°C",
  relative_humidity_2m: "%",
  apparent_temperature: "°C",
  precipitation: "mm",
  weather_code: "wmo code",
  cloud_cover: "%",
  pressure_msl: "hPa",
  wind_speed_10m: "m/s",
  wind_direction_10m: "°",
  wind_gusts_10m: "m/s",
};

/** The value the fake serves for one variable at one coordinate and hour (UTC ms). */
export function fakeValue(variable: string, lat: number, lon: number, t: number): number {
  const h = Math.floor(t / 3_600_000);
  const wave = Math.sin(h / 7 + lat) * 5 + Math.cos(lon + h / 13);
  switch (variable) {
    case "temperature_2m":
      return Math.round((10 + wave) * 10) / 10;
    case "apparent_temperature":
      return Math.round((8 + wave) * 10) / 10;
    case "relative_humidity_2m":
      return 60 + (h % 30);
    case "precipitation":
      return h % 5 === 0 ? 0.4 : 0;
    case "weather_code":
      return h % 5 === 0 ? 61 : 3;
    case "cloud_cover":
      return h % 101;
    case "pressure_msl":
      return Math.round((1013 + wave) * 10) / 10;
    case "wind_speed_10m":
      return Math.round((3 + Math.abs(wave)) * 100) / 100;
    case "wind_direction_10m":
      return (h * 17) % 360;
    case "wind_gusts_10m":
      return Math.round((6 + Math.abs(wave)) * 100) / 100;
    default:
      return 0;
  }
}

export function fakeOpenMeteo(): FakeOpenMeteo {
  const calls: string[] = [];
  const failures: { match: (url: URL) => boolean; status: number; body: string }[] = [];
  let tamper: ((location: Record<string, unknown>, index: number) => void) | null = null;
  const json = (status: number, body: unknown) =>
    new Response(typeof body === "string" ? body : JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json; charset=utf-8" },
    });
  const impl = async (input: string | URL | Request): Promise<Response> => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    calls.push(url.href);
    const failure = failures.find((f) => f.match(url));
    if (failure) return json(failure.status, failure.body);
    const q = url.searchParams;
    const lats = (q.get("latitude") ?? "").split(",").map(Number);
    const lons = (q.get("longitude") ?? "").split(",").map(Number);
    const hourly = (q.get("hourly") ?? "").split(",").filter((v) => v !== "");
    if (lats.length !== lons.length || lats.some(Number.isNaN)) {
      return json(400, {
        error: true,
        reason: "Parameter 'latitude' and 'longitude' must have the same number of elements",
      });
    }
    let start: number;
    let end: number;
    if (url.pathname === "/v1/forecast") {
      const sh = q.get("start_hour");
      const eh = q.get("end_hour");
      if (!sh || !eh)
        return json(400, { error: true, reason: "Parameter 'start_hour' and 'end_hour' must both be set" });
      start = Date.parse(`${sh}:00Z`);
      end = Date.parse(`${eh}:00Z`);
    } else if (url.pathname === "/v1/archive") {
      const sd = q.get("start_date");
      const ed = q.get("end_date");
      if (!sd || !ed) return json(400, { error: true, reason: "Parameter 'start_date' is required" });
      start = Date.parse(`${sd}T00:00:00Z`);
      end = Date.parse(`${ed}T23:00:00Z`);
    } else {
      return json(404, { error: true, reason: "Not Found" });
    }
    if (q.get("timezone") !== "GMT" || q.get("wind_speed_unit") !== "ms") {
      return json(400, { error: true, reason: "this fake serves timezone=GMT and wind_speed_unit=ms only" });
    }
    const times: number[] = [];
    for (let t = start; t <= end; t += 3_600_000) times.push(t);
    const locations = lats.map((lat, i) => {
      const lon = lons[i] ?? 0;
      const table: Record<string, unknown> = {
        time: times.map((t) => new Date(t).toISOString().slice(0, 16)),
      };
      for (const v of hourly) table[v] = times.map((t) => fakeValue(v, lat, lon, t));
      const location: Record<string, unknown> = {
        latitude: Math.round(lat * 100) / 100,
        longitude: Math.round(lon * 100) / 100,
        generationtime_ms: 0.5,
        utc_offset_seconds: 0,
        timezone: "GMT",
        timezone_abbreviation: "GMT",
        elevation: 38,
        ...(lats.length > 1 ? { location_id: i } : {}),
        hourly_units: Object.fromEntries(["time", ...hourly].map((v) => [v, UNITS[v] ?? "?"])),
        hourly: table,
      };
      tamper?.(location, i);
      return location;
    });
    return json(200, lats.length === 1 ? locations[0] : locations);
  };
  return {
    fetch: impl as typeof fetch,
    calls,
    fail(match, status, body) {
      failures.push({ match, status, body });
    },
    tamper(fn) {
      tamper = fn;
    },
  };
}
