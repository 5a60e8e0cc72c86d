import { afterEach, describe, expect, it } from "vitest";
import { type Simulator, type SimulatorOptions, startSimulator } from "../../simulator/server.ts";

// 10:37 UTC on 3 October 2026: forecast API dates 2026-07-02..2026-10-18, archive 1940-01-01..2026-10-03.
const CLOCK = new Date("2026-10-03T10:37:00Z");
const VARS = "temperature_2m,relative_humidity_2m,precipitation,weather_code,pressure_msl,wind_speed_10m";
const started: Simulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function sim(opts: SimulatorOptions = {}): Promise<Simulator> {
  const s = await startSimulator({ clock: () => CLOCK, ...opts });
  started.push(s);
  return s;
}

async function get(s: Simulator, path: string) {
  const res = await fetch(`${s.url}${path}`);
  const body = await res.text();
  return { status: res.status, body, headers: res.headers, json: () => JSON.parse(body) };
}

const OSLO = { lat: "59.9139", lon: "10.7522" };
const forecast = (extra: string, lat = OSLO.lat, lon = OSLO.lon) =>
  `/v1/forecast?latitude=${lat}&longitude=${lon}&hourly=${VARS}${extra}`;
const archive = (extra: string, lat = OSLO.lat, lon = OSLO.lon) =>
  `/v1/archive?latitude=${lat}&longitude=${lon}&hourly=${VARS}${extra}`;

describe("simulator: Open-Meteo hourly history, shape", () => {
  it("answers past_days with local-midnight hours, hourly_units and one array per variable", async () => {
    const s = await sim();
    const res = await get(s, forecast("&past_days=2&forecast_days=1&wind_speed_unit=ms"));
    const body = res.json();
    expect(res.status).toBe(200);
    expect(body.hourly_units).toEqual({
      time: "iso8601",
      temperature_2m: "°C",
      relative_humidity_2m: "%",
      precipitation: "mm",
      weather_code: "wmo code",
      pressure_msl: "hPa",
      wind_speed_10m: "m/s",
    });
    expect(body.hourly.time).toHaveLength(72);
    expect(body.hourly.time[0]).toBe("2026-10-01T00:00");
    expect(body.hourly.time.at(-1)).toBe("2026-10-03T23:00");
    for (const v of VARS.split(",")) expect(body.hourly[v]).toHaveLength(72);
    expect(body.current).toBeUndefined();
    expect([body.utc_offset_seconds, body.timezone]).toEqual([0, "GMT"]);
  });

  it("defaults to 7 forecast days from today, like the real API", async () => {
    const s = await sim();
    const body = (await get(s, forecast(""))).json();
    expect(body.hourly.time).toHaveLength(7 * 24);
    expect(body.hourly.time[0]).toBe("2026-10-03T00:00");
  });

  it("answers start_date/end_date and start_hour/end_hour inclusively, in the asked zone", async () => {
    const s = await sim();
    const days = (
      await get(s, forecast("&start_date=2026-09-01&end_date=2026-09-02&timezone=Europe/Oslo"))
    ).json();
    const hours = (await get(s, forecast("&start_hour=2026-09-01T05:00&end_hour=2026-09-01T07:00"))).json();
    expect(days.hourly.time).toHaveLength(48);
    expect([days.hourly.time[0], days.utc_offset_seconds]).toEqual(["2026-09-01T00:00", 7200]);
    expect(hours.hourly.time).toEqual(["2026-09-01T05:00", "2026-09-01T06:00", "2026-09-01T07:00"]);
  });

  it("answers a batch with an array in request order, location_id from the second element on", async () => {
    const s = await sim();
    const body = (
      await get(
        s,
        forecast("&start_date=2026-09-01&end_date=2026-09-01", "59.9139,-12.0464", "10.7522,-77.0428"),
      )
    ).json();
    expect(body).toHaveLength(2);
    expect(body.map((l: { latitude: number }) => Math.round(l.latitude))).toEqual([60, -12]);
    expect([body[0].location_id, body[1].location_id]).toEqual([undefined, 1]);
    expect(body[1].hourly.temperature_2m).toHaveLength(24);
  });

  it("serves /v1/archive back to 1940 with the same shape and no current block", async () => {
    const s = await sim();
    const res = await get(s, archive("&start_date=1940-01-01&end_date=1940-01-01&current=temperature_2m"));
    const body = res.json();
    expect(res.status).toBe(200);
    expect(body.hourly.time[0]).toBe("1940-01-01T00:00");
    expect(body.hourly.temperature_2m.every((v: unknown) => typeof v === "number")).toBe(true);
    expect(body.current).toBeUndefined();
  });

  it("carries both current and hourly in one forecast answer", async () => {
    const s = await sim();
    const body = (await get(s, `${forecast("&past_days=1&forecast_days=0")}&current=temperature_2m`)).json();
    expect(body.current.time).toBe("2026-10-03T10:30");
    expect(body.hourly.time).toHaveLength(24);
  });

  it("converts units as asked", async () => {
    const s = await sim();
    const q = "&start_date=2026-09-01&end_date=2026-09-01";
    const metric = (await get(s, forecast(q))).json();
    const imperial = (
      await get(s, forecast(`${q}&temperature_unit=fahrenheit&wind_speed_unit=mph&precipitation_unit=inch`))
    ).json();
    expect(imperial.hourly_units.temperature_2m).toBe("°F");
    expect(imperial.hourly.temperature_2m[12]).toBeCloseTo(
      (metric.hourly.temperature_2m[12] * 9) / 5 + 32,
      0,
    );
    expect(metric.hourly_units.wind_speed_10m).toBe("km/h");
    expect(imperial.hourly_units.precipitation).toBe("inch");
  });
});

describe("simulator: Open-Meteo hourly history, values", () => {
  it("gives hour H the value a live current read at H shows", async () => {
    // Prepare: a simulator whose clock stands at the top of 08:00 UTC, the day before.
    const topOfHour = new Date("2026-10-02T08:00:00Z");
    const live = await sim({ clock: () => topOfHour });
    const history = await sim();
    const vars =
      "temperature_2m,relative_humidity_2m,weather_code,pressure_msl,wind_speed_10m,wind_direction_10m";
    // Act
    const current = (
      await get(live, `/v1/forecast?latitude=59.9139&longitude=10.7522&current=${vars}`)
    ).json().current;
    const hourly = (
      await get(
        history,
        `/v1/forecast?latitude=59.9139&longitude=10.7522&hourly=${vars}&start_date=2026-10-02&end_date=2026-10-02`,
      )
    ).json().hourly;
    // Assess
    const i = hourly.time.indexOf("2026-10-02T08:00");
    expect(current.time).toBe("2026-10-02T08:00");
    for (const v of vars.split(",")) expect([v, hourly[v][i]]).toEqual([v, current[v]]);
  });

  it("sums precipitation over the preceding hour: the hour's value is its four quarter-hours' sum", async () => {
    // Prepare: find a wet hour at some site, then read the four 15-minute current values ending at it.
    const history = await sim();
    let found: { lat: number; lon: number; hour: string; mm: number } | undefined;
    for (let lat = -50; lat <= 60 && !found; lat += 7.3) {
      const body = (
        await get(
          history,
          `/v1/forecast?latitude=${lat}&longitude=20&hourly=precipitation&past_days=5&forecast_days=0`,
        )
      ).json();
      const i = body.hourly.precipitation.findIndex((p: number) => p > 0.3);
      if (i >= 0) found = { lat, lon: 20, hour: body.hourly.time[i], mm: body.hourly.precipitation[i] };
    }
    if (!found) throw new Error("no wet hour found in the sample");
    const end = Date.parse(`${found.hour}:00Z`);
    let sum = 0;
    for (const back of [0, 15, 30, 45]) {
      const live = await sim({ clock: () => new Date(end - back * 60_000) });
      const body = (
        await get(live, `/v1/forecast?latitude=${found.lat}&longitude=20&current=precipitation`)
      ).json();
      sum += body.current.precipitation;
    }
    // Assess: four values rounded to 0.01 each against one.
    expect(Math.abs(sum - found.mm)).toBeLessThanOrEqual(0.03);
    expect(found.mm).toBeGreaterThan(0);
  });

  it("is byte-identical for the same clock and differs slightly (reanalysis) between archive and forecast", async () => {
    const a = await sim();
    const b = await sim();
    const q = "&start_date=2026-09-01&end_date=2026-09-03";
    expect((await get(a, archive(q))).body).toBe((await get(b, archive(q))).body);
    expect((await get(a, forecast(q))).body).toBe((await get(b, forecast(q))).body);
    const fc = (await get(a, forecast(q))).json().hourly.temperature_2m as number[];
    const ar = (await get(a, archive(q))).json().hourly.temperature_2m as number[];
    const diffs = fc.map((v, i) => Math.abs(v - (ar[i] as number)));
    expect(Math.max(...diffs)).toBeLessThanOrEqual(0.35);
    expect(diffs.some((d) => d > 0)).toBe(true);
  });

  it("answers null in the archive for hours newer than its delay, and values before", async () => {
    const s = await sim(); // delay 5 days: data through 2026-09-28T23:00 UTC
    const body = (await get(s, archive("&start_date=2026-09-28&end_date=2026-09-29"))).json();
    const t = body.hourly.temperature_2m as (number | null)[];
    expect(t.slice(0, 24).every((v) => typeof v === "number")).toBe(true);
    expect(t.slice(24).every((v) => v === null)).toBe(true);
  });

  it("labels whole local hours in a 45-minute zone but reads whole UTC hours, as the real server", async () => {
    const s = await sim();
    const ktm = (
      await get(
        s,
        forecast("&start_date=2026-09-01&end_date=2026-09-01&timezone=Asia/Kathmandu", "27.7172", "85.324"),
      )
    ).json();
    const gmt = (
      await get(s, forecast("&start_date=2026-08-31&end_date=2026-09-01", "27.7172", "85.324"))
    ).json();
    // Local 00:00 (+05:45) carries the UTC hour 19:00 of the previous day (offset truncated to 5 h).
    expect(ktm.hourly.time[0]).toBe("2026-09-01T00:00");
    expect(ktm.hourly.temperature_2m[0]).toBe(
      gmt.hourly.temperature_2m[gmt.hourly.time.indexOf("2026-08-31T19:00")],
    );
  });
});

describe("simulator: Open-Meteo hourly history, refusals", () => {
  const cases: [string, string, string][] = [
    ["past_days > 93", forecast("&past_days=94"), "Past days is invalid. Allowed range 0 to 93. Given 94."],
    [
      "forecast_days > 16 (the server echoes the maximum)",
      forecast("&forecast_days=20"),
      "Forecast days is invalid. Allowed range 0 to 16. Given 16.",
    ],
    [
      "start_date more than 93 days back",
      forecast("&start_date=2026-07-01&end_date=2026-07-02"),
      "Parameter 'start_date' is out of allowed range from 2026-07-02 to 2026-10-18",
    ],
    [
      "end_date beyond 16 days",
      forecast("&start_date=2026-10-01&end_date=2026-10-19"),
      "Parameter 'end_date' is out of allowed range from 2026-07-02 to 2026-10-18",
    ],
    [
      "end before start",
      forecast("&start_date=2026-09-02&end_date=2026-09-01"),
      "End-date must be larger or equals than start-date",
    ],
    [
      "past_days with dates",
      forecast("&start_date=2026-09-01&end_date=2026-09-01&past_days=1"),
      "Parameter 'past_days' is mutually exclusive with 'start_date' and 'end_date'",
    ],
    [
      "a malformed date",
      forecast("&start_date=2026-9-1&end_date=2026-09-01"),
      "Invalid date format. Make sure to use 'YYYY-MM-DD'",
    ],
    [
      "an unknown variable (the whole list echoed)",
      "/v1/forecast?latitude=1&longitude=2&hourly=temperature_2m,nope",
      "Data corrupted at path ''. Cannot initialize SurfacePressureAndHeightVariable<VariableAndPreviousDay, VariableOrSpread<ForecastPressureVariable>, ForecastHeightVariable> from invalid String value temperature_2m,nope.",
    ],
    [
      "archive before 1940",
      archive("&start_date=1939-12-31&end_date=1940-01-02"),
      "Parameter 'start_date' is out of allowed range from 1940-01-01 to 2026-10-03",
    ],
    [
      "archive after today",
      archive("&start_date=2026-10-01&end_date=2026-10-04"),
      "Parameter 'end_date' is out of allowed range from 1940-01-01 to 2026-10-03",
    ],
    ["an invalid timezone", forecast("&timezone=Mars/Olympus"), "Invalid timezone"],
  ];
  it.each(cases)("refuses %s with 400 and the real reason", async (_name, path, reason) => {
    const s = await sim();
    const res = await get(s, path);
    expect([res.status, res.json()]).toEqual([400, { error: true, reason }]);
  });
});

describe("simulator: Open-Meteo hourly history, faults and stats", () => {
  it("applies a rule to /v1/archive only, and counts by path", async () => {
    const s = await sim({
      faults: [{ path: "/v1/archive", fault: { kind: "rate-limit", retryAfter: 30, window: "daily" } }],
    });
    const ar = await get(s, archive("&start_date=2026-09-01&end_date=2026-09-01"));
    const fc = await get(s, forecast("&start_date=2026-09-01&end_date=2026-09-01"));
    expect([ar.status, ar.headers.get("retry-after"), ar.json()]).toEqual([
      429,
      "30",
      { error: true, reason: "Daily API request limit exceeded. Please try again tomorrow." },
    ]);
    expect(fc.status).toBe(200);
    expect(s.stats().byPath).toMatchObject({
      "/v1/archive": { requests: 1, byStatus: { "429": 1 } },
      "/v1/forecast": { requests: 1, byStatus: { "200": 1 } },
    });
  });

  it("drifts hourly.temperature_2m by default, and a chosen hour when asked", async () => {
    const s = await sim({ faults: [{ path: "/v1/forecast", times: 1, fault: { kind: "schema-drift" } }] });
    const q = forecast("&start_date=2026-09-01&end_date=2026-09-01");
    const drifted = (await get(s, q)).json();
    s.setFaults([{ fault: { kind: "schema-drift", field: "hourly.temperature_2m.3", change: "type" } }]);
    const oneHour = (await get(s, q)).json();
    expect(drifted.hourly.temperature_2m).toBeUndefined();
    expect(drifted.hourly.temperature_2m_v2).toHaveLength(24);
    expect(typeof oneHour.hourly.temperature_2m[3]).toBe("string");
    expect(typeof oneHour.hourly.temperature_2m[4]).toBe("number");
  });

  it("applies server-error, status, malformed-json, hang and oversized-body to the archive", async () => {
    const s = await sim();
    const q = archive("&start_date=2026-09-01&end_date=2026-09-01");
    s.setFaults([{ path: "/v1/archive", times: 1, fault: { kind: "server-error", status: 502 } }]);
    const failed = await get(s, q);
    s.setFaults([{ path: "/v1/archive", times: 1, fault: { kind: "malformed-json" } }]);
    const broken = await get(s, q);
    s.setFaults([{ path: "/v1/archive", times: 1, fault: { kind: "oversized-body", bytes: 200_000 } }]);
    const big = await get(s, q);
    s.setFaults([{ path: "/v1/archive", times: 1, fault: { kind: "echo-request" } }]);
    const echoed = await get(s, q);
    s.setFaults([{ path: "/v1/archive", fault: { kind: "hang" } }]);
    const hung = await fetch(`${s.url}${q}`, { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect([failed.status, failed.json().error]).toEqual([502, true]);
    expect(broken.status).toBe(200);
    expect(() => JSON.parse(broken.body)).toThrow();
    expect(Buffer.byteLength(big.body)).toBe(200_000);
    expect(big.body.startsWith('[{"latitude"')).toBe(true);
    expect(echoed.json().request_url).toContain("/v1/archive?");
    expect(echoed.json().hourly.temperature_2m).toHaveLength(24);
    expect(hung).toBeInstanceOf(Error);
    expect(s.stats().byPath["/v1/archive"]?.byStatus).toMatchObject({ "502": 1, "200": 3, hang: 1 });
  });

  it("delays and answers a status on the hourly forecast path only, and a batch stays byte-identical", async () => {
    const s = await sim({
      faults: [{ path: "/v1/forecast", times: 1, fault: { kind: "latency", ms: 5_000 } }],
    });
    const q = forecast("&start_hour=2026-09-01T00:00&end_hour=2026-09-14T23:00", "1,2,3", "4,5,6");
    const slow = await fetch(`${s.url}${q}`, { signal: AbortSignal.timeout(300) }).catch((e: unknown) => e);
    s.setFaults([
      { path: "/v1/forecast", times: 1, fault: { kind: "status", status: 404, message: "No data" } },
    ]);
    const before = await get(s, archive("&start_date=2026-09-01&end_date=2026-09-01"));
    const first = await get(s, q);
    const second = await get(s, q);
    expect(slow).toBeInstanceOf(Error);
    expect(before.status).toBe(200);
    expect([first.status, first.json()]).toEqual([404, { error: true, reason: "No data" }]);
    expect(second.status).toBe(200);
    expect(second.json().map((e: { hourly: { time: string[] } }) => e.hourly.time.length)).toEqual([
      336, 336, 336,
    ]);
    expect((await get(s, q)).body).toBe(second.body);
    expect(s.stats().byPath["/v1/forecast"]?.requests).toBe(4);
  });

  it("bills weighted calls as the real server: variables/10 × days/14 per location, at least 1", async () => {
    const s = await sim();
    const ten =
      "temperature_2m,relative_humidity_2m,apparent_temperature,precipitation,weather_code,cloud_cover,pressure_msl,wind_speed_10m,wind_direction_10m,wind_gusts_10m";
    // 10 variables × 28 days × 2 locations = 2 × 2 = 4; then 6 variables × 1 day × 1 location = 1.
    await get(
      s,
      `/v1/archive?latitude=1,2&longitude=3,4&hourly=${ten}&start_date=2026-08-01&end_date=2026-08-28`,
    );
    await get(s, archive("&start_date=2026-08-01&end_date=2026-08-01"));
    expect(s.stats().openMeteoWeightedCalls).toBeCloseTo(5, 6);
  });
});
