import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, parseInterval } from "#core/domain/interval.ts";
import { observationSchema } from "#core/domain/observation.ts";
import type { Site } from "#core/domain/sites.ts";
import type { RawEnvelope, SiteParseResult } from "#core/ports.ts";
import { createProvider } from "#core/providers/index.ts";
import { localToUtc, OPEN_METEO_CURRENT_VARIABLES, parseOpenMeteo } from "#core/providers/open-meteo.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/providers/open-meteo/${name}`, import.meta.url), "utf8");

const site = (id: string, lat: number, lon: number, timezone = "UTC"): Site => ({
  id,
  name: id,
  lat,
  lon,
  timezone,
  country: "XX",
});
const BERLIN = site("berlin", 52.52, 13.405, "Europe/Berlin");
const KATHMANDU = site("kathmandu", 27.7172, 85.324, "Asia/Kathmandu");
const ST_JOHNS = site("st-johns", 47.5615, -52.7126, "America/St_Johns");
const LOS_ANGELES = site("los-angeles", 34.0522, -118.2437, "America/Los_Angeles");
const NEW_YORK = site("new-york", 40.7128, -74.006, "America/New_York");
const LONGYEARBYEN = site("longyearbyen", 78.2232, 15.6267, "Arctic/Longyearbyen");

const interval: Interval = parseInterval("2026-10-03T10");
const provider = createProvider(loadConfig({}), "open-meteo");

function envelope(sites: Site[], body: string, over: Partial<RawEnvelope> = {}): RawEnvelope {
  return {
    version: 1,
    source: "open-meteo",
    interval,
    batch: 1,
    sites,
    url: provider.url(sites, interval, { redact: true }),
    status: 200,
    headers: { "content-type": "application/json; charset=utf-8" },
    attempt: 1,
    fetchedAt: "2026-10-03T10:31:00.000Z",
    latencyMs: 42,
    body,
    ...over,
  };
}

const ok = (r: SiteParseResult | undefined) => {
  if (r?.status !== "ok") throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.observation;
};

describe("Open-Meteo request URL", () => {
  it("batches coordinates in site order and asks for m/s, timezone=auto and every current variable", () => {
    // Prepare
    const p = createProvider(loadConfig({ OPEN_METEO_BASE_URL: "http://127.0.0.1:9/" }), "open-meteo");
    // Act
    const url = new URL(p.url([BERLIN, KATHMANDU], interval));
    // Assess
    expect(url.origin + url.pathname).toBe("http://127.0.0.1:9/v1/forecast");
    expect(url.searchParams.get("latitude")).toBe("52.52,27.7172");
    expect(url.searchParams.get("longitude")).toBe("13.405,85.324");
    expect(url.searchParams.get("current")).toBe(OPEN_METEO_CURRENT_VARIABLES.join(","));
    expect(url.searchParams.get("wind_speed_unit")).toBe("ms");
    expect(url.searchParams.get("timezone")).toBe("auto");
  });

  it("takes batch size, concurrency and weighted-call limits from the config", () => {
    const p = createProvider(
      loadConfig({
        OPEN_METEO_BATCH_SIZE: "25",
        OPEN_METEO_CONCURRENCY: "2",
        OPEN_METEO_CALLS_PER_MINUTE: "120",
        OPEN_METEO_CALLS_PER_HOUR: "1000",
        OPEN_METEO_CALLS_PER_DAY: "2000",
      }),
      "open-meteo",
    );
    expect([p.source, p.batchSize, p.concurrency]).toEqual(["open-meteo", 25, 2]);
    expect(p.limits).toEqual({ perMinute: 120, perHour: 1000, perDay: 2000 });
    // Ten current variables over one day weigh one call per location.
    expect(p.requestWeight([BERLIN, KATHMANDU, ST_JOHNS])).toBe(3);
    expect(provider.batchSize).toBe(50);
  });
});

describe("Open-Meteo contract: success", () => {
  it("normalizes a single-location object to one canonical observation", () => {
    // Prepare
    const body = fixture("berlin-single.json");
    // Act
    const [result] = parseOpenMeteo(envelope([BERLIN], body));
    // Assess
    const obs = ok(result);
    expect(observationSchema.parse(obs)).toBeTruthy();
    expect(obs).toMatchObject({
      siteId: "berlin",
      source: "open-meteo",
      temperatureC: 14.3,
      feelsLikeC: 12.96,
      humidityPct: 71,
      pressureHpa: 1012.4,
      windSpeedMs: 3.61,
      windGustMs: 8.9,
      windDirectionDeg: 236,
      cloudCoverPct: 100,
      precipitationMm: 0.1,
      precipitationWindowMinutes: 15,
      conditionCode: "61",
      conditionSystem: "wmo",
    });
    // 12:30 local at UTC+2 is 10:30 UTC.
    expect(obs.observedAt.toISOString()).toBe("2026-10-03T10:30:00.000Z");
    expect(obs.payload).toEqual(JSON.parse(body));
  });

  it("maps an array answer to sites in request order, with half-hour, 45-minute and negative offsets", () => {
    // Prepare
    const body = fixture("offsets-multi.json");
    const sites = [KATHMANDU, ST_JOHNS, LOS_ANGELES];
    // Act
    const results = parseOpenMeteo(envelope(sites, body));
    // Assess: 16:15 at +05:45, 07:00 at -03:30 and 02:30 at -08:00 are all 10:30 UTC.
    expect(results.map((r) => r.siteId)).toEqual(["kathmandu", "st-johns", "los-angeles"]);
    for (const r of results) expect(ok(r).observedAt.toISOString()).toBe("2026-01-15T10:30:00.000Z");
    expect(ok(results[1]).temperatureC).toBe(-4.6);
    expect(ok(results[1]).conditionCode).toBe("73");
    expect(ok(results[2]).payload).toEqual(JSON.parse(body)[2]);
  });

  it("converts °F, inch and km/h when current_units says so", () => {
    // Prepare
    const body = fixture("imperial-kmh.json");
    // Act
    const obs = ok(parseOpenMeteo(envelope([NEW_YORK], body))[0]);
    // Assess
    expect(obs.temperatureC).toBe(15);
    expect(obs.feelsLikeC).toBe(14);
    expect(obs.precipitationMm).toBe(0.51);
    expect(obs.windSpeedMs).toBe(5);
    expect(obs.windGustMs).toBe(10);
    expect(obs.observedAt.toISOString()).toBe("2026-10-03T10:30:00.000Z");
  });

  it("falls back to the URL's units when current_units is absent (API default km/h without wind_speed_unit)", () => {
    // Prepare
    const body = JSON.parse(fixture("berlin-single.json"));
    delete body.current_units;
    const url = provider.url([BERLIN], interval, { redact: true }).replace("&wind_speed_unit=ms", "");
    // Act
    const obs = ok(parseOpenMeteo(envelope([BERLIN], JSON.stringify(body), { url }))[0]);
    // Assess: 3.61 km/h
    expect(obs.windSpeedMs).toBe(1);
    expect(obs.temperatureC).toBe(14.3);
  });

  it("reads missing metadata and null readings as null, not as a failure", () => {
    // Prepare: no current_units, elevation, timezone or interval; every reading but temperature null.
    const body = fixture("sparse.json");
    // Act
    const obs = ok(parseOpenMeteo(envelope([LONGYEARBYEN], body))[0]);
    // Assess
    expect(obs.temperatureC).toBe(-12.5);
    expect(obs.observedAt.toISOString()).toBe("2026-12-01T11:00:00.000Z");
    expect(obs).toMatchObject({
      feelsLikeC: null,
      humidityPct: null,
      pressureHpa: null,
      windSpeedMs: null,
      windGustMs: null,
      windDirectionDeg: null,
      cloudCoverPct: null,
      precipitationMm: null,
      precipitationWindowMinutes: null,
      conditionCode: null,
      conditionSystem: null,
    });
  });

  it("reads a variable the URL did not request as null", () => {
    // Prepare
    const body = JSON.parse(fixture("berlin-single.json"));
    delete body.current.wind_gusts_10m;
    const url = provider.url([BERLIN], interval, { redact: true }).replace(",wind_gusts_10m", "");
    // Act
    const [result] = parseOpenMeteo(envelope([BERLIN], JSON.stringify(body), { url }));
    // Assess
    expect(ok(result).windGustMs).toBeNull();
  });

  it("is pure: the same envelope parses to byte-identical observations", () => {
    const env = envelope([KATHMANDU, ST_JOHNS, LOS_ANGELES], fixture("offsets-multi.json"));
    expect(JSON.stringify(parseOpenMeteo(env))).toBe(JSON.stringify(parseOpenMeteo(structuredClone(env))));
  });
});

describe("Open-Meteo contract: errors and drift", () => {
  it("fails every site of the batch on the 400 error shape, quoting the reason", () => {
    // Prepare
    const env = envelope([BERLIN, KATHMANDU], fixture("error-400.json"), { status: 400 });
    // Act
    const results = parseOpenMeteo(env);
    // Assess
    expect(results).toEqual([
      {
        siteId: "berlin",
        status: "failed",
        reason: "HTTP 400 after 1 attempt: Latitude must be in range of -90 to 90°. Given: 91.0.",
      },
      {
        siteId: "kathmandu",
        status: "failed",
        reason: "HTTP 400 after 1 attempt: Latitude must be in range of -90 to 90°. Given: 91.0.",
      },
    ]);
  });

  it("fails on network errors and non-contract error bodies with the attempt count", () => {
    const timeout = envelope([BERLIN], "", { status: 0, attempt: 4, networkError: "timeout after 500 ms" });
    const html = envelope([BERLIN], "<html>502 Bad Gateway</html>", { status: 502, attempt: 3 });
    expect(parseOpenMeteo(timeout)[0]).toEqual({
      siteId: "berlin",
      status: "failed",
      reason: "network error after 4 attempts: timeout after 500 ms",
    });
    expect(parseOpenMeteo(html)[0]).toMatchObject({
      status: "failed",
      reason: "HTTP 502 after 3 attempts: <html>502 Bad Gateway</html>",
    });
  });

  it("quarantines malformed JSON with the raw text as payload", () => {
    // Prepare
    const text = fixture("berlin-single.json").slice(0, 120);
    // Act
    const [result] = parseOpenMeteo(envelope([BERLIN], text));
    // Assess
    expect(result).toMatchObject({ siteId: "berlin", status: "quarantined", payload: text });
    expect(result?.status === "quarantined" && result.reason).toMatch(/^malformed JSON/);
  });

  it("quarantines a renamed requested field, naming it", () => {
    // Prepare
    const body = JSON.parse(fixture("berlin-single.json"));
    body.current.temperature = body.current.temperature_2m;
    delete body.current.temperature_2m;
    // Act
    const [result] = parseOpenMeteo(envelope([BERLIN], JSON.stringify(body)));
    // Assess
    expect(result?.status).toBe("quarantined");
    expect(result?.status === "quarantined" && result.reason).toContain("current.temperature_2m");
    expect(result?.status === "quarantined" && result.payload).toEqual(body);
  });

  it("quarantines only the drifted element of a batch, naming its index and field", () => {
    // Prepare
    const body = JSON.parse(fixture("offsets-multi.json"));
    body[1].current.temperature_2m = "-4.6";
    // Act
    const results = parseOpenMeteo(envelope([KATHMANDU, ST_JOHNS, LOS_ANGELES], JSON.stringify(body)));
    // Assess
    expect(results.map((r) => r.status)).toEqual(["ok", "quarantined", "ok"]);
    expect(results[1]?.status === "quarantined" && results[1].reason).toContain("[1].current.temperature_2m");
  });

  it("quarantines a missing utc_offset_seconds and a local time with an offset", () => {
    const noOffset = JSON.parse(fixture("berlin-single.json"));
    delete noOffset.utc_offset_seconds;
    const zoned = JSON.parse(fixture("berlin-single.json"));
    zoned.current.time = "2026-10-03T12:30+02:00";
    const [a] = parseOpenMeteo(envelope([BERLIN], JSON.stringify(noOffset)));
    const [b] = parseOpenMeteo(envelope([BERLIN], JSON.stringify(zoned)));
    expect(a?.status === "quarantined" && a.reason).toContain("utc_offset_seconds");
    expect(b?.status === "quarantined" && b.reason).toContain("current.time");
  });

  it("quarantines an unknown unit, naming current_units and the variable", () => {
    const body = JSON.parse(fixture("berlin-single.json"));
    body.current_units.wind_speed_10m = "furlong/fortnight";
    const [result] = parseOpenMeteo(envelope([BERLIN], JSON.stringify(body)));
    expect(result?.status === "quarantined" && result.reason).toContain("current_units.wind_speed_10m");
  });

  it("quarantines the whole batch when the array does not match the request", () => {
    // Prepare
    const body = JSON.parse(fixture("offsets-multi.json")).slice(0, 2);
    const sites = [KATHMANDU, ST_JOHNS, LOS_ANGELES];
    // Act
    const results = parseOpenMeteo(envelope(sites, JSON.stringify(body)));
    const single = parseOpenMeteo(envelope(sites, fixture("berlin-single.json")));
    // Assess
    expect(results.every((r) => r.status === "quarantined")).toBe(true);
    expect(results[0]?.status === "quarantined" && results[0].reason).toContain("expected 3 locations");
    expect(single.every((r) => r.status === "quarantined")).toBe(true);
  });

  it("quarantines an answer whose coordinates are far from the site (order mix-up)", () => {
    const body = JSON.parse(fixture("offsets-multi.json"));
    const swapped = [body[1], body[0], body[2]];
    const results = parseOpenMeteo(envelope([KATHMANDU, ST_JOHNS, LOS_ANGELES], JSON.stringify(swapped)));
    expect(results.map((r) => r.status)).toEqual(["quarantined", "quarantined", "ok"]);
  });
});

describe("localToUtc", () => {
  it.each([
    ["2026-10-03T12:30", 7200, "2026-10-03T10:30:00.000Z"],
    ["2026-01-15T16:15", 20700, "2026-01-15T10:30:00.000Z"],
    ["2026-01-15T07:00", -12600, "2026-01-15T10:30:00.000Z"],
    ["2026-01-01T01:00", 7200, "2025-12-31T23:00:00.000Z"],
    ["2026-12-31T20:00", -18000, "2027-01-01T01:00:00.000Z"],
    ["2026-03-01T00:15:30", 0, "2026-03-01T00:15:30.000Z"],
  ])("%s at %i s → %s", (local, offset, utc) => {
    expect(localToUtc(local, offset).toISOString()).toBe(utc);
  });
});
