/**
 * Open-Meteo hourly history without a database: the contracts (success and error bodies, broken ones),
 * request URLs and the request plan (the 92-day boundary, windows, batches, weights).
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, parseInterval } from "#core/domain/interval.ts";
import { observationSchema } from "#core/domain/observation.ts";
import type { Site } from "#core/domain/sites.ts";
import type { HistoryEndpoint, RawEnvelope, SiteHistoryResult, WeatherProvider } from "#core/ports.ts";
import { createProvider } from "#core/providers/index.ts";
import { historyKindOf, parseOpenMeteoHourly } from "#core/providers/open-meteo-history.ts";
import {
  forecastBoundary,
  HistoryUnsupportedError,
  historyObjectKey,
  historyWeight,
  parseHistoryObjectKey,
  planHistory,
} from "#core/use-cases/history.ts";
import { fakeOpenMeteo } from "../helpers/fake-open-meteo.ts";

const site = (id: string, lat: number, lon: number): Site => ({
  id,
  name: id,
  lat,
  lon,
  timezone: "UTC",
  country: "XX",
});
const BERLIN = site("berlin", 52.52, 13.405);
const PARIS = site("paris", 48.8566, 2.3522);
const LIMA = site("lima", -12.0464, -77.0428);
const I = (s: string): Interval => parseInterval(s);

const config = loadConfig({
  OPEN_METEO_BASE_URL: "http://127.0.0.1:9/",
  OPEN_METEO_ARCHIVE_URL: "http://127.0.0.2:9",
});
const provider = createProvider(config, "open-meteo");
const history =
  provider.history ??
  (() => {
    throw new Error("open-meteo has history");
  })();

/** The fake API's answer for one request, as the envelope ingestion would land. */
async function envelope(
  sites: Site[],
  window: { from: Interval; to: Interval; endpoint: HistoryEndpoint },
  fake = fakeOpenMeteo(),
): Promise<RawEnvelope> {
  const { url, redactedUrl } = history.request(sites, window);
  const res = await fake.fetch(url);
  return {
    version: 1,
    source: "open-meteo",
    interval: window.from,
    range: { from: window.from, to: window.to },
    batch: 1,
    sites,
    url: redactedUrl,
    status: res.status,
    headers: { "content-type": "application/json" },
    attempt: 1,
    fetchedAt: "2026-11-23T22:00:00.000Z",
    latencyMs: 12,
    body: await res.text(),
  };
}

const ok = (r: SiteHistoryResult | undefined) => {
  if (r?.status !== "ok") throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.observations;
};
const problem = (r: SiteHistoryResult | undefined) => {
  if (!r || r.status === "ok") throw new Error(`expected a problem, got ${JSON.stringify(r)}`);
  return r;
};

describe("Open-Meteo history requests", () => {
  it("asks the forecast API for hours and the archive for whole days, with the live variables, m/s and GMT", () => {
    // Act
    const forecast = new URL(
      history.request([BERLIN, PARIS], {
        from: I("2026-11-01T05"),
        to: I("2026-11-02T07"),
        endpoint: "forecast",
      }).url,
    );
    const archive = new URL(
      history.request([BERLIN], { from: I("2025-01-01T05"), to: I("2025-01-14T23"), endpoint: "archive" })
        .url,
    );
    // Assess
    expect(forecast.origin + forecast.pathname).toBe("http://127.0.0.1:9/v1/forecast");
    expect(Object.fromEntries(forecast.searchParams)).toEqual({
      latitude: "52.52,48.8566",
      longitude: "13.405,2.3522",
      hourly:
        "temperature_2m,relative_humidity_2m,apparent_temperature,precipitation,weather_code,cloud_cover,pressure_msl,wind_speed_10m,wind_direction_10m,wind_gusts_10m",
      start_hour: "2026-11-01T05:00",
      end_hour: "2026-11-02T07:00",
      wind_speed_unit: "ms",
      timezone: "GMT",
    });
    expect(archive.origin + archive.pathname).toBe("http://127.0.0.2:9/v1/archive");
    expect(archive.searchParams.get("start_date")).toBe("2025-01-01");
    expect(archive.searchParams.get("end_date")).toBe("2025-01-14");
    expect(archive.searchParams.get("start_hour")).toBeNull();
  });

  it("the simulator serves both endpoints at SIMULATOR_URL; without it a request says what to set", () => {
    const sim = createProvider(loadConfig({ SIMULATOR_URL: "http://127.0.0.1:8787" }), "simulator");
    const w = { from: I("2025-01-01T00"), to: I("2025-01-01T23") };
    expect(sim.history?.request([BERLIN], { ...w, endpoint: "archive" }).url).toMatch(
      /^http:\/\/127\.0\.0\.1:8787\/v1\/archive\?/,
    );
    expect(sim.history?.request([BERLIN], { ...w, endpoint: "forecast" }).url).toMatch(
      /^http:\/\/127\.0\.0\.1:8787\/v1\/forecast\?/,
    );
    const unset = createProvider(loadConfig({}), "simulator");
    expect(() => unset.history?.request([BERLIN], { ...w, endpoint: "archive" })).toThrow(/SIMULATOR_URL/);
    expect(createProvider(loadConfig({}), "openweather").history).toBeUndefined();
    expect(new HistoryUnsupportedError("openweather").message).toMatch(/--source open-meteo/);
  });

  it("names the kind by the endpoint in the landed URL", () => {
    expect(historyKindOf("http://x/v1/forecast?hourly=a")).toBe("forecast");
    expect(historyKindOf("https://archive-api.open-meteo.com/v1/archive?hourly=a")).toBe("archive");
    expect(historyKindOf("http://x/v1/air-quality")).toBeUndefined();
  });
});

describe("Open-Meteo history contract: success", () => {
  it("gives one canonical observation per site and hour of the range, in UTC, kind by endpoint", async () => {
    // Prepare
    const window = { from: I("2026-11-01T05"), to: I("2026-11-01T08"), endpoint: "forecast" as const };
    // Act
    const results = parseOpenMeteoHourly(await envelope([BERLIN, PARIS], window));
    // Assess
    expect(results.map((r) => [r.siteId, r.status])).toEqual([
      ["berlin", "ok"],
      ["paris", "ok"],
    ]);
    const berlin = ok(results[0]);
    expect(berlin.map((o) => o.observedAt.toISOString())).toEqual([
      "2026-11-01T05:00:00.000Z",
      "2026-11-01T06:00:00.000Z",
      "2026-11-01T07:00:00.000Z",
      "2026-11-01T08:00:00.000Z",
    ]);
    for (const o of berlin) expect(observationSchema.parse(o)).toBeTruthy();
    expect(berlin[0]).toMatchObject({
      siteId: "berlin",
      source: "open-meteo",
      kind: "forecast",
      precipitationWindowMinutes: 60,
      conditionSystem: "wmo",
    });
    expect(berlin[0]?.payload).toMatchObject({ time: "2026-11-01T05:00" });
  });

  it("drops the hours of an archive day outside the range, and labels them archive", async () => {
    // Act: the archive answers whole days (48 hours); the range asks for 10 of them.
    const results = parseOpenMeteoHourly(
      await envelope([LIMA], { from: I("2025-03-01T20"), to: I("2025-03-02T05"), endpoint: "archive" }),
    );
    // Assess
    const obs = ok(results[0]);
    expect(obs).toHaveLength(10);
    expect(obs[0]?.observedAt.toISOString()).toBe("2025-03-01T20:00:00.000Z");
    expect(obs.at(-1)?.observedAt.toISOString()).toBe("2025-03-02T05:00:00.000Z");
    expect(new Set(obs.map((o) => o.kind))).toEqual(new Set(["archive"]));
  });

  it("follows hourly_units: km/h and °F are converted like the live parser does", async () => {
    // Prepare
    const fake = fakeOpenMeteo();
    fake.tamper((loc) => {
      const t = loc.hourly as Record<string, number[]>;
      (loc.hourly_units as Record<string, string>).wind_speed_10m = "km/h";
      (loc.hourly_units as Record<string, string>).temperature_2m = "°F";
      t.wind_speed_10m = t.wind_speed_10m?.map(() => 36) ?? [];
      t.temperature_2m = t.temperature_2m?.map(() => 212) ?? [];
    });
    // Act
    const [result] = parseOpenMeteoHourly(
      await envelope(
        [BERLIN],
        { from: I("2026-11-01T00"), to: I("2026-11-01T01"), endpoint: "forecast" },
        fake,
      ),
    );
    // Assess
    const obs = ok(result);
    expect(obs.map((o) => [o.windSpeedMs, o.temperatureC])).toEqual([
      [10, 100],
      [10, 100],
    ]);
  });

  it("leaves out an hour with no value at all (so coverage keeps it missing)", async () => {
    const fake = fakeOpenMeteo();
    fake.tamper((loc) => {
      const t = loc.hourly as Record<string, unknown[]>;
      for (const [k, v] of Object.entries(t)) if (k !== "time") v[1] = null;
    });
    const [result] = parseOpenMeteoHourly(
      await envelope(
        [BERLIN],
        { from: I("2026-11-01T00"), to: I("2026-11-01T02"), endpoint: "forecast" },
        fake,
      ),
    );
    expect(ok(result).map((o) => o.observedAt.toISOString().slice(11, 13))).toEqual(["00", "02"]);
  });
});

describe("Open-Meteo history contract: broken bodies and errors", () => {
  const window = { from: I("2026-11-01T00"), to: I("2026-11-01T23"), endpoint: "forecast" as const };

  it("an error body (HTTP 400) fails every site with the API's reason", async () => {
    const fake = fakeOpenMeteo();
    fake.fail(
      () => true,
      400,
      JSON.stringify({
        error: true,
        reason: "Cannot initialize WeatherVariable from invalid String value tempeture_2m for key hourly",
      }),
    );
    const results = parseOpenMeteoHourly(await envelope([BERLIN, PARIS], window, fake));
    expect(results).toEqual([
      {
        siteId: "berlin",
        status: "failed",
        reason: expect.stringMatching(/^HTTP 400 after 1 attempt: Cannot initialize WeatherVariable/),
      },
      {
        siteId: "paris",
        status: "failed",
        reason: expect.stringMatching(/^HTTP 400 after 1 attempt: Cannot initialize/),
      },
    ]);
  });

  it("an array of another length quarantines that site only, naming the field and both lengths", async () => {
    const fake = fakeOpenMeteo();
    fake.tamper((loc, i) => {
      if (i === 1) (loc.hourly as Record<string, unknown[]>).temperature_2m?.pop();
    });
    const results = parseOpenMeteoHourly(await envelope([BERLIN, PARIS], window, fake));
    expect(results[0]?.status).toBe("ok");
    expect(problem(results[1])).toMatchObject({
      siteId: "paris",
      status: "quarantined",
      reason: "schema drift: [1].hourly.temperature_2m: length 23, expected 24",
    });
  });

  it("a requested variable that is missing quarantines the site", async () => {
    const fake = fakeOpenMeteo();
    fake.tamper((loc) => {
      delete (loc.hourly as Record<string, unknown>).pressure_msl;
    });
    const [result] = parseOpenMeteoHourly(await envelope([BERLIN], window, fake));
    expect(problem(result).reason).toBe("schema drift: hourly.pressure_msl: requested but missing");
  });

  it("a unit it cannot convert quarantines the site, naming hourly_units.<variable>", async () => {
    const fake = fakeOpenMeteo();
    fake.tamper((loc) => {
      (loc.hourly_units as Record<string, string>).pressure_msl = "kPa";
    });
    const [result] = parseOpenMeteoHourly(await envelope([BERLIN], window, fake));
    expect(problem(result).reason).toBe(
      'schema drift: hourly_units.pressure_msl: unsupported unit "kPa" (expected hPa)',
    );
  });

  it("a mistyped value or time names the field", async () => {
    const fake = fakeOpenMeteo();
    fake.tamper((loc) => {
      (loc.hourly as Record<string, unknown[]>).cloud_cover?.splice(3, 1, "lots");
    });
    const [result] = parseOpenMeteoHourly(await envelope([BERLIN], window, fake));
    expect(problem(result).reason).toMatch(/^schema drift: hourly\.cloud_cover\.3: /);
  });

  it("an envelope that is not a history request is quarantined, not guessed", async () => {
    const e = await envelope([BERLIN], window);
    const [result] = parseOpenMeteoHourly({ ...e, url: "http://127.0.0.1:9/v1/air-quality?hourly=x" });
    expect(problem(result).reason).toMatch(/not an Open-Meteo history envelope/);
  });
});

describe("history plan", () => {
  const now = new Date("2026-11-23T21:50:00Z");
  const plan = (from: string, to: string, sites: Site[], batchSize = 2) =>
    planHistory({ sites, from: I(from), to: I(to), now, batchSize, recentDays: 92 });

  it("the forecast API serves from 00:00 UTC 92 days before today", () => {
    expect(forecastBoundary(now, 92)).toBe("2026-08-23T00");
  });

  it("splits a range at the 92-day boundary: older hours from the archive, the rest from the forecast API", () => {
    const requests = plan("2026-08-20T06", "2026-08-25T03", [BERLIN]);
    expect(requests.map((r) => [r.endpoint, r.from, r.to, r.days])).toEqual([
      ["archive", "2026-08-20T06", "2026-08-22T23", 3],
      ["forecast", "2026-08-23T00", "2026-08-25T03", 3],
    ]);
  });

  it("cuts each side into windows of at most 14 calendar days and the sites into batches", () => {
    const requests = plan("2026-01-01T00", "2026-01-31T23", [BERLIN, PARIS, LIMA], 2);
    expect(requests.map((r) => [r.batch, r.from, r.to, r.days, r.sites.map((s) => s.id).join("+")])).toEqual([
      [1, "2026-01-01T00", "2026-01-14T23", 14, "berlin+paris"],
      [2, "2026-01-01T00", "2026-01-14T23", 14, "lima"],
      [3, "2026-01-15T00", "2026-01-28T23", 14, "berlin+paris"],
      [4, "2026-01-15T00", "2026-01-28T23", 14, "lima"],
      [5, "2026-01-29T00", "2026-01-31T23", 3, "berlin+paris"],
      [6, "2026-01-29T00", "2026-01-31T23", 3, "lima"],
    ]);
    expect(requests.every((r) => r.endpoint === "archive")).toBe(true);
  });

  it("a window starting mid-day ends on its 14th calendar day; hours after now are left out", () => {
    const requests = plan("2026-11-01T10", "2026-11-24T05", [BERLIN]);
    expect(requests.map((r) => [r.from, r.to, r.days])).toEqual([
      ["2026-11-01T10", "2026-11-14T23", 14],
      ["2026-11-15T00", "2026-11-23T21", 9],
    ]);
  });

  it("an empty or inverted range plans nothing", () => {
    expect(plan("2026-11-02T00", "2026-11-01T00", [BERLIN])).toEqual([]);
    expect(plan("2026-11-01T00", "2026-11-01T00", [])).toEqual([]);
  });

  it("weighs a request as Open-Meteo bills it", () => {
    expect(historyWeight(10, 14, 50)).toBe(50);
    expect(historyWeight(10, 3, 1)).toBe(1);
    expect(historyWeight(10, 28, 2)).toBe(4);
    expect(historyWeight(20, 7, 1)).toBe(2);
  });

  it("raw keys are append-only per run, batch and try, and say their range", () => {
    const key = historyObjectKey(
      "open-meteo",
      "20261123T215000000Z-a1b2c3",
      { from: I("2026-11-01T00"), to: I("2026-11-14T23") },
      3,
      2,
    );
    expect(key).toBe(
      "source=open-meteo/history/run=20261123T215000000Z-a1b2c3/range=2026-11-01T00..2026-11-14T23/batch-0003-try-02.json",
    );
    expect(parseHistoryObjectKey(key)).toEqual({
      runToken: "20261123T215000000Z-a1b2c3",
      from: "2026-11-01T00",
      to: "2026-11-14T23",
    });
    expect(
      parseHistoryObjectKey(
        "source=open-meteo/date=2026-11-22/hour=13/interval=2026-11-22T13/run=x/batch-0001-try-01.json",
      ),
    ).toBeUndefined();
  });
});

// Keeps the provider type honest: history is part of the port, not an Open-Meteo special case.
const _typed: WeatherProvider = provider;
void _typed;
