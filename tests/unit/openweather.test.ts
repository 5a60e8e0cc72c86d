import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, parseInterval } from "#core/domain/interval.ts";
import { observationSchema } from "#core/domain/observation.ts";
import type { Site } from "#core/domain/sites.ts";
import type { RawEnvelope, SiteParseResult } from "#core/ports.ts";
import { createProvider } from "#core/providers/index.ts";
import {
  MissingApiKeyError,
  openWeatherKeyRejection,
  parseOpenWeather,
} from "#core/providers/openweather.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/providers/openweather/${name}`, import.meta.url), "utf8");

const ZOCCA: Site = {
  id: "zocca",
  name: "Zocca",
  lat: 44.34,
  lon: 10.99,
  timezone: "Europe/Rome",
  country: "IT",
};
const LONDON: Site = {
  id: "london",
  name: "London",
  lat: 51.5074,
  lon: -0.1278,
  timezone: "Europe/London",
  country: "GB",
};
const KEY = "owm-test-key-0123456789abcdef";
const interval: Interval = parseInterval("2026-10-03T10");
const config = loadConfig({ OPENWEATHER_BASE_URL: "http://127.0.0.1:9" });
const provider = createProvider(config, "openweather", { apiKey: KEY });

function envelope(site: Site, body: string, over: Partial<RawEnvelope> = {}): RawEnvelope {
  return {
    version: 1,
    source: "openweather",
    interval,
    batch: 1,
    sites: [site],
    url: provider.url([site], interval, { redact: true }),
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
const reasonOf = (r: SiteParseResult | undefined) => (r && r.status !== "ok" ? r.reason : "");

describe("OpenWeatherMap request URL and key handling", () => {
  it("asks for one site in metric units with the key, and redacts the key on request", () => {
    // Act
    const real = new URL(provider.url([ZOCCA], interval));
    const redacted = provider.url([ZOCCA], interval, { redact: true });
    // Assess
    expect(real.pathname).toBe("/data/2.5/weather");
    expect(Object.fromEntries(real.searchParams)).toEqual({
      lat: "44.34",
      lon: "10.99",
      units: "metric",
      appid: KEY,
    });
    expect(redacted).toContain("appid=REDACTED");
    expect(redacted).not.toContain(KEY);
  });

  it("takes one site per request, and concurrency and the free plan's limits from the config", () => {
    expect(provider.batchSize).toBe(1);
    expect(provider.concurrency).toBe(4);
    expect(provider.limits).toEqual({ perMinute: 60, perHour: 3600, perDay: 32_000 });
    expect(provider.requestWeight([ZOCCA])).toBe(1);
    expect(() => provider.url([ZOCCA, LONDON], interval)).toThrow(RangeError);
  });

  it("builds without a key (replays parse), but a real request URL needs one", () => {
    // Prepare
    const keyless = createProvider(config, "openweather");
    // Act / Assess
    expect(keyless.url([ZOCCA], interval, { redact: true })).toContain("appid=REDACTED");
    expect(() => keyless.url([ZOCCA], interval)).toThrow(MissingApiKeyError);
    expect(() => keyless.url([ZOCCA], interval)).toThrow(/OPENWEATHER_API_KEY/);
    expect(ok(keyless.parse(envelope(ZOCCA, fixture("zocca-metric.json")))[0]).temperatureC).toBe(25.33);
  });

  it("takes the key from OPENWEATHER_API_KEY when the factory gets none", () => {
    const p = createProvider(loadConfig({ OPENWEATHER_API_KEY: "from-env" }), "openweather");
    expect(p.url([ZOCCA], interval)).toContain("appid=from-env");
  });
});

describe("OpenWeatherMap contract: success", () => {
  it("normalizes the documented metric sample", () => {
    // Prepare
    const body = fixture("zocca-metric.json");
    // Act
    const [result] = parseOpenWeather(envelope(ZOCCA, body));
    // Assess
    const obs = ok(result);
    expect(observationSchema.parse(obs)).toBeTruthy();
    expect(obs).toMatchObject({
      siteId: "zocca",
      source: "openweather",
      temperatureC: 25.33,
      feelsLikeC: 25.59,
      humidityPct: 64,
      pressureHpa: 1015,
      windSpeedMs: 0.62,
      windGustMs: 1.18,
      windDirectionDeg: 349,
      cloudCoverPct: 100,
      precipitationMm: 3.16,
      precipitationWindowMinutes: 60,
      conditionCode: "501",
      conditionSystem: "owm",
    });
    expect(obs.observedAt.toISOString()).toBe(new Date(1661870592 * 1000).toISOString());
    expect(obs.payload).toEqual(JSON.parse(body));
  });

  it("converts Kelvin when the request had units=standard or no units at all", () => {
    // Prepare
    const body = fixture("zocca-standard.json");
    const standardUrl = provider
      .url([ZOCCA], interval, { redact: true })
      .replace("units=metric", "units=standard");
    const noUnitsUrl = provider.url([ZOCCA], interval, { redact: true }).replace("&units=metric", "");
    // Act
    const a = ok(parseOpenWeather(envelope(ZOCCA, body, { url: standardUrl }))[0]);
    const b = ok(parseOpenWeather(envelope(ZOCCA, body, { url: noUnitsUrl }))[0]);
    // Assess: 298.48 K and 298.74 K
    expect([a.temperatureC, a.feelsLikeC]).toEqual([25.33, 25.59]);
    expect(b).toEqual(a);
  });

  it("converts °F and mph for units=imperial", () => {
    const body = JSON.parse(fixture("zocca-metric.json"));
    body.main.temp = 77;
    body.wind.speed = 10;
    const url = provider.url([ZOCCA], interval, { redact: true }).replace("units=metric", "units=imperial");
    const obs = ok(parseOpenWeather(envelope(ZOCCA, JSON.stringify(body), { url }))[0]);
    expect(obs.temperatureC).toBe(25);
    expect(obs.windSpeedMs).toBe(4.47);
  });

  it("reads a dry sample without optional blocks: 0 mm over 60 min, nulls elsewhere", () => {
    // Act
    const obs = ok(parseOpenWeather(envelope(LONDON, fixture("dry-sparse.json")))[0]);
    // Assess
    expect(obs).toMatchObject({
      temperatureC: 8.2,
      feelsLikeC: null,
      humidityPct: 76,
      pressureHpa: 1022,
      windSpeedMs: 4.12,
      windGustMs: null,
      windDirectionDeg: null,
      cloudCoverPct: null,
      precipitationMm: 0,
      precipitationWindowMinutes: 60,
      conditionCode: null,
      conditionSystem: null,
    });
  });

  it("uses the 3-hour window when only 3h figures exist, and adds rain and snow", () => {
    const base = JSON.parse(fixture("zocca-metric.json"));
    const threeHours = { ...base, rain: { "3h": 4.5 } };
    const mixed = { ...base, rain: { "1h": 0.4 }, snow: { "1h": 0.35 } };
    const a = ok(parseOpenWeather(envelope(ZOCCA, JSON.stringify(threeHours)))[0]);
    const b = ok(parseOpenWeather(envelope(ZOCCA, JSON.stringify(mixed)))[0]);
    expect([a.precipitationMm, a.precipitationWindowMinutes]).toEqual([4.5, 180]);
    expect([b.precipitationMm, b.precipitationWindowMinutes]).toEqual([0.75, 60]);
  });
});

describe("OpenWeatherMap contract: errors and drift", () => {
  it.each([
    [
      "error-401.json",
      401,
      "HTTP 401 after 1 attempt: Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
    ],
    ["error-404.json", 404, "HTTP 404 after 1 attempt: city not found"],
    ["error-400.json", 400, "HTTP 400 after 1 attempt: wrong latitude"],
  ])("fails on %s (numeric or string cod) with the API's message", (file, status, reason) => {
    const [result] = parseOpenWeather(envelope(ZOCCA, fixture(file), { status }));
    expect(result).toEqual({ siteId: "zocca", status: "failed", reason });
  });

  it("fails on 429 after the retries, counting the attempts", () => {
    const [result] = parseOpenWeather(
      envelope(ZOCCA, fixture("error-429.json"), { status: 429, attempt: 4 }),
    );
    expect(reasonOf(result)).toMatch(/^HTTP 429 after 4 attempts: Your account is temporary blocked/);
  });

  it("fails on an error body that arrives with HTTP 200", () => {
    const [result] = parseOpenWeather(envelope(ZOCCA, fixture("error-404.json")));
    expect(result).toMatchObject({ status: "failed", reason: "HTTP 200 after 1 attempt: city not found" });
  });

  it("quarantines a required field of the wrong type, naming it", () => {
    // Prepare
    const body = JSON.parse(fixture("zocca-metric.json"));
    body.main.temp = "25.33";
    // Act
    const [result] = parseOpenWeather(envelope(ZOCCA, JSON.stringify(body)));
    // Assess
    expect(result?.status).toBe("quarantined");
    expect(reasonOf(result)).toContain("main.temp");
    expect(result?.status === "quarantined" && result.payload).toEqual(body);
  });

  it("quarantines a missing dt, naming it", () => {
    const body = JSON.parse(fixture("zocca-metric.json"));
    delete body.dt;
    expect(reasonOf(parseOpenWeather(envelope(ZOCCA, JSON.stringify(body)))[0])).toContain("dt");
  });

  it("quarantines malformed JSON with the raw text as payload", () => {
    const text = '{"coord":{"lon":10.99,"lat":44.3';
    const [result] = parseOpenWeather(envelope(ZOCCA, text));
    expect(result).toMatchObject({ status: "quarantined", payload: text });
    expect(reasonOf(result)).toMatch(/^malformed JSON/);
  });

  it("quarantines an unknown units value instead of guessing", () => {
    const url = provider.url([ZOCCA], interval, { redact: true }).replace("units=metric", "units=kelvin");
    expect(reasonOf(parseOpenWeather(envelope(ZOCCA, fixture("zocca-metric.json"), { url }))[0])).toContain(
      'units="kelvin"',
    );
  });

  it("quarantines an answer for other coordinates", () => {
    expect(parseOpenWeather(envelope(LONDON, fixture("zocca-metric.json")))[0]?.status).toBe("quarantined");
  });

  it("quarantines a body cut at HTTP_MAX_BODY_BYTES with a 2 KB excerpt, before anything else", () => {
    const cut = envelope(ZOCCA, "x".repeat(65_536), {
      status: 500,
      bodyTruncated: true,
      bodyBytes: 70_000,
      maxBodyBytes: 65_000,
    });
    expect(parseOpenWeather(cut)).toEqual([
      {
        siteId: "zocca",
        status: "quarantined",
        reason: "response body exceeds HTTP_MAX_BODY_BYTES (65000 bytes)",
        payload: "x".repeat(2_048),
      },
    ]);
  });
});

describe("openWeatherKeyRejection", () => {
  const answer = (status: number, body: string) => envelope(ZOCCA, body, { status });
  it.each([
    [401, fixture("error-401.json"), expect.stringMatching(/^Invalid API key/)],
    [403, '{"cod":403,"message":"Invalid API key for this endpoint"}', "Invalid API key for this endpoint"],
    [403, '{"cod":403,"message":"appid is not allowed"}', "appid is not allowed"],
    [403, '{"cod":403,"message":"Your plan does not include this API"}', undefined],
    [401, "<html>Unauthorized</html>", "<html>Unauthorized</html>"],
    [429, fixture("error-429.json"), undefined],
    [200, fixture("zocca-metric.json"), undefined],
  ])("HTTP %i %s → %s", (status, body, expected) => {
    expect(openWeatherKeyRejection(answer(status, body))).toEqual(expected);
  });

  it("is what the provider's credential uses, naming OPENWEATHER_API_KEY by default", () => {
    const p = provider as typeof provider & { credential?: { origin: string } };
    expect(p.credential?.origin).toBe("OPENWEATHER_API_KEY");
  });
});
