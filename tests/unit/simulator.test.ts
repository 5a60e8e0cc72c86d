import { afterEach, describe, expect, it } from "vitest";
import { OPEN_METEO_CURRENT_VARIABLES } from "#core/providers/open-meteo.ts";
import { type Simulator, type SimulatorOptions, startSimulator } from "../../simulator/server.ts";
import { weatherAt } from "../../simulator/weather-model.ts";

const CLOCK = new Date("2026-10-03T10:37:00Z");
const CURRENT = OPEN_METEO_CURRENT_VARIABLES.join(",");
const started: Simulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function sim(opts: SimulatorOptions = {}): Promise<Simulator> {
  const s = await startSimulator({ clock: () => CLOCK, ...opts });
  started.push(s);
  return s;
}

async function get(base: string, path: string): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

const omPath = (lat: string, lon: string, extra = "&wind_speed_unit=ms&timezone=auto") =>
  `/v1/forecast?latitude=${lat}&longitude=${lon}&current=${CURRENT}${extra}`;

describe("simulator: Open-Meteo shape", () => {
  it("answers one coordinate with an object and several with an array in request order", async () => {
    // Prepare
    const s = await sim();
    // Act
    const one = JSON.parse((await get(s.url, omPath("59.9139", "10.7522"))).body);
    const many = JSON.parse(
      (await get(s.url, omPath("59.9139,-12.0464,35.6762", "10.7522,-77.0428,139.6503"))).body,
    );
    // Assess
    expect(Array.isArray(one)).toBe(false);
    expect(one.current_units.wind_speed_10m).toBe("m/s");
    expect(Object.keys(one.current)).toEqual(["time", "interval", ...OPEN_METEO_CURRENT_VARIABLES]);
    expect(many).toHaveLength(3);
    expect(many.map((l: { latitude: number }) => Math.round(l.latitude))).toEqual([60, -12, 36]);
  });

  it("reports current.time as the local 15-minute slot, offset by longitude for timezone=auto", async () => {
    const s = await sim();
    // 10:37 UTC at lon 85.3 → auto offset +6 h → 16:37 → slot 16:30.
    const auto = JSON.parse((await get(s.url, omPath("27.7172", "85.324"))).body);
    expect([auto.utc_offset_seconds, auto.current.time, auto.current.interval]).toEqual([
      21600,
      "2026-10-03T16:30",
      900,
    ]);
  });

  it("uses the real offset for a named zone, e.g. Kathmandu's +05:45 and St John's -02:30 in October", async () => {
    const s = await sim();
    const ktm = JSON.parse((await get(s.url, omPath("27.7172", "85.324", "&timezone=Asia/Kathmandu"))).body);
    const nfl = JSON.parse(
      (await get(s.url, omPath("47.5615", "-52.7126", "&timezone=America/St_Johns"))).body,
    );
    // 10:37 UTC + 5:45 = 16:22 → slot 16:15; 10:37 UTC - 2:30 = 08:07 → slot 08:00.
    expect([ktm.utc_offset_seconds, ktm.current.time]).toEqual([20700, "2026-10-03T16:15"]);
    expect([nfl.utc_offset_seconds, nfl.current.time]).toEqual([-9000, "2026-10-03T08:00"]);
  });

  it("honours the unit parameters and defaults to km/h like the real API", async () => {
    const s = await sim();
    const ms = JSON.parse((await get(s.url, omPath("59.9139", "10.7522"))).body);
    const kmh = JSON.parse((await get(s.url, omPath("59.9139", "10.7522", "&timezone=auto"))).body);
    expect(kmh.current_units.wind_speed_10m).toBe("km/h");
    expect(kmh.current.wind_speed_10m).toBeCloseTo(ms.current.wind_speed_10m * 3.6, 0);
  });

  it("answers bad input with the 400 error shape", async () => {
    const s = await sim();
    const mismatch = await get(s.url, "/v1/forecast?latitude=1,2&longitude=3");
    const range = await get(s.url, "/v1/forecast?latitude=91&longitude=3");
    expect(mismatch.status).toBe(400);
    expect(JSON.parse(mismatch.body)).toEqual({
      error: true,
      reason: "Parameter 'latitude' and 'longitude' must have the same number of elements",
    });
    expect(JSON.parse(range.body)).toMatchObject({
      error: true,
      reason: expect.stringContaining("Latitude"),
    });
  });
});

describe("simulator: OpenWeatherMap shape", () => {
  it("answers with metric values, dt floored to 10 minutes, cod 200", async () => {
    const s = await sim({ apiKey: "k" });
    const res = await get(s.url, "/data/2.5/weather?lat=44.34&lon=10.99&units=metric&appid=k");
    const body = JSON.parse(res.body);
    expect(res.status).toBe(200);
    expect(body.dt).toBe(Date.parse("2026-10-03T10:30:00Z") / 1000);
    expect(body.cod).toBe(200);
    expect(body.coord).toEqual({ lon: 10.99, lat: 44.34 });
    expect(typeof body.main.temp).toBe("number");
    expect(body.weather[0].id).toBeGreaterThanOrEqual(200);
  });

  it("reports Kelvin without units and Fahrenheit with imperial", async () => {
    const s = await sim();
    const q = "/data/2.5/weather?lat=44.34&lon=10.99&appid=any";
    const metric = JSON.parse((await get(s.url, `${q}&units=metric`)).body).main.temp;
    const standard = JSON.parse((await get(s.url, q)).body).main.temp;
    const imperial = JSON.parse((await get(s.url, `${q}&units=imperial`)).body).main.temp;
    expect(standard).toBeCloseTo(metric + 273.15, 1);
    expect(imperial).toBeCloseTo((metric * 9) / 5 + 32, 1);
  });

  it("answers 401 with a NUMERIC cod for a missing or wrong key, 400 with a STRING cod for bad coordinates", async () => {
    const s = await sim({ apiKey: "right" });
    const missing = await get(s.url, "/data/2.5/weather?lat=1&lon=2&units=metric");
    const wrong = await get(s.url, "/data/2.5/weather?lat=1&lon=2&units=metric&appid=nope");
    const badLat = await get(s.url, "/data/2.5/weather?lat=100&lon=2&units=metric&appid=right");
    expect([missing.status, JSON.parse(missing.body).cod]).toEqual([401, 401]);
    expect([wrong.status, JSON.parse(wrong.body).cod]).toEqual([401, 401]);
    expect([badLat.status, JSON.parse(badLat.body)]).toEqual([
      400,
      { cod: "400", message: "wrong latitude" },
    ]);
  });
});

describe("simulator: determinism and realism", () => {
  it("gives byte-identical bodies for the same clock, across servers", async () => {
    const a = await sim();
    const b = await sim();
    const paths = [
      omPath("59.9139,-33.8688", "10.7522,151.2093"),
      "/data/2.5/weather?lat=-33.8688&lon=151.2093&units=metric&appid=x",
    ];
    for (const p of paths) expect((await get(a.url, p)).body).toBe((await get(b.url, p)).body);
  });

  it("changes with the clock", async () => {
    const a = await sim();
    const b = await sim({ clock: () => new Date(CLOCK.getTime() + 3 * 3_600_000) });
    const p = omPath("59.9139", "10.7522");
    expect((await get(a.url, p)).body).not.toBe((await get(b.url, p)).body);
  });

  it("has a diurnal cycle by local solar time and a seasonal cycle by hemisphere", () => {
    // Oslo: 15:00 solar time is warmer than 04:00 the same day; July warmer than January.
    const oslo = (iso: string) => weatherAt(59.9139, 10.7522, new Date(iso)).temperatureC;
    expect(oslo("2026-07-10T14:17:00Z")).toBeGreaterThan(oslo("2026-07-10T03:17:00Z"));
    expect(oslo("2026-07-10T12:00:00Z")).toBeGreaterThan(oslo("2026-01-10T12:00:00Z"));
    // Sydney: the other way round.
    const sydney = (iso: string) => weatherAt(-33.8688, 151.2093, new Date(iso)).temperatureC;
    expect(sydney("2026-01-10T03:00:00Z")).toBeGreaterThan(sydney("2026-07-10T03:00:00Z"));
  });

  it("keeps every value in a physically plausible range", () => {
    // Prepare
    const codes = new Set([0, 1, 2, 3, 45, 61, 63, 65, 71, 73, 75, 95]);
    const violations: string[] = [];
    // Act: a grid of places over a year, every 3.5 days at shifting hours.
    for (let lat = -80; lat <= 80; lat += 20) {
      for (let lon = -180; lon < 180; lon += 45) {
        for (let h = 0; h < 24 * 365; h += 84 + 7) {
          const at = new Date(Date.UTC(2026, 0, 1) + h * 3_600_000);
          const w = weatherAt(lat, lon, at);
          const bad = [
            w.temperatureC > -60 && w.temperatureC < 50 ? "" : "temperature",
            w.humidityPct >= 0 && w.humidityPct <= 100 ? "" : "humidity",
            w.cloudPct >= 0 && w.cloudPct <= 100 ? "" : "cloud",
            w.windMs >= 0 && w.gustMs >= w.windMs ? "" : "wind",
            w.pressureHpa > 960 && w.pressureHpa < 1040 ? "" : "pressure",
            codes.has(w.wmoCode) ? "" : "code",
            w.precipMmPerHour > 0 === w.wmoCode >= 61 ? "" : "precipitation vs code",
          ].filter((b) => b !== "");
          if (bad.length > 0) violations.push(`${lat},${lon} ${at.toISOString()}: ${bad.join(", ")}`);
        }
      }
    }
    // Assess
    expect(violations).toEqual([]);
  });
});

describe("simulator: fault rules", () => {
  it("applies a rule to the first N matching requests only, and counts statuses", async () => {
    // Prepare
    const s = await sim({ faults: [{ api: "open-meteo", times: 2, fault: { kind: "server-error" } }] });
    const p = omPath("59.9139", "10.7522");
    // Act
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(s.url, p)).status);
    // Assess
    expect(statuses).toEqual([500, 500, 200]);
    expect(s.stats()).toMatchObject({ requests: 3, byStatus: { "500": 2, "200": 1 } });
  });

  it("fails only the chosen site when matching by coordinates", async () => {
    const s = await sim({
      faults: [{ at: { lat: -12.0464, lon: -77.0428 }, fault: { kind: "status", status: 404 } }],
    });
    const lima = await get(s.url, "/data/2.5/weather?lat=-12.0464&lon=-77.0428&units=metric&appid=x");
    const oslo = await get(s.url, "/data/2.5/weather?lat=59.9139&lon=10.7522&units=metric&appid=x");
    expect([lima.status, JSON.parse(lima.body)]).toEqual([404, { cod: "404", message: "city not found" }]);
    expect(oslo.status).toBe(200);
  });

  it("sends 429 with Retry-After and the API's own body", async () => {
    const s = await sim({ faults: [{ fault: { kind: "rate-limit", retryAfter: 7 } }] });
    const owm = await get(s.url, "/data/2.5/weather?lat=1&lon=2&units=metric&appid=x");
    const om = await get(s.url, omPath("1", "2"));
    expect([owm.status, owm.headers.get("retry-after"), JSON.parse(owm.body).cod]).toEqual([429, "7", 429]);
    expect([om.status, JSON.parse(om.body).error]).toEqual([429, true]);
  });

  it("serves malformed JSON and schema drift with HTTP 200", async () => {
    const s = await sim();
    s.setFaults([{ times: 1, fault: { kind: "malformed-json" } }]);
    const broken = await get(s.url, omPath("1", "2"));
    s.setFaults([
      { fault: { kind: "schema-drift", field: "main.temp", change: "rename", renameTo: "temperature" } },
    ]);
    const drifted = JSON.parse((await get(s.url, "/data/2.5/weather?lat=1&lon=2&units=metric&appid=x")).body);
    expect(broken.status).toBe(200);
    expect(() => JSON.parse(broken.body)).toThrow();
    expect(drifted.main.temp).toBeUndefined();
    expect(typeof drifted.main.temperature).toBe("number");
  });

  it("adds latency and still answers; setFaults replaces the rules", async () => {
    const s = await sim({ faults: [{ fault: { kind: "hang" } }] });
    s.setFaults([{ fault: { kind: "latency", ms: 30 } }]);
    const res = await get(s.url, omPath("1", "2"));
    expect(res.status).toBe(200);
  });

  it("streams an oversized body of exactly the asked size, a runaway JSON array", async () => {
    const s = await sim({ faults: [{ fault: { kind: "oversized-body", bytes: 300_000 } }] });
    const res = await get(s.url, omPath("1", "2"));
    expect(res.status).toBe(200);
    expect(Buffer.byteLength(res.body)).toBe(300_000);
    expect(res.body.startsWith('[{"latitude"')).toBe(true);
    expect(s.stats().bodyBytesSent).toBe(300_000);
  });

  it("stops streaming an oversized body when the client hangs up", async () => {
    // Prepare
    const s = await sim({ faults: [{ fault: { kind: "oversized-body", bytes: 500 * 1024 * 1024 } }] });
    const controller = new AbortController();
    const res = await fetch(`${s.url}${omPath("1", "2")}`, { signal: controller.signal });
    const reader = res.body?.getReader();
    await reader?.read();
    // Act
    controller.abort();
    await s.close();
    started.splice(started.indexOf(s), 1);
    // The writer resumes on 'close' in a microtask; a writer that ignored it would run on synchronously.
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    // Assess: the server wrote a few socket buffers' worth, not 500 MB.
    expect(s.stats().bodyBytesSent).toBeLessThan(64 * 1024 * 1024);
  });

  it("echoes the request and the key, in several encodings, in body and headers", async () => {
    const key = "k3y+/=&é";
    const s = await sim({ apiKey: key, faults: [{ fault: { kind: "echo-request" } }] });
    const res = await get(
      s.url,
      `/data/2.5/weather?lat=1&lon=2&units=metric&appid=${encodeURIComponent(key)}`,
    );
    const body = JSON.parse(res.body);
    expect(res.status).toBe(200);
    expect(body.main.temp).toEqual(expect.any(Number));
    expect(body).toMatchObject({
      appid: key,
      appid_uri: encodeURIComponent(key),
      appid_b64url: Buffer.from(key).toString("base64url"),
      echo_json_escaped: expect.stringContaining(key),
    });
    expect(res.body).toContain("k3y+\\/=&\\u00e9");
    expect(res.headers.get("x-request-url")).toContain(`appid=${encodeURIComponent(key)}`);
    expect(res.headers.get("location")).toContain(`appid=${encodeURIComponent(key)}`);
    expect(res.headers.get("x-echo-appid-b64")).toBe(Buffer.from(key).toString("base64"));
    s.setFaults([{ fault: { kind: "echo-request", status: 401 } }]);
    const rejected = await get(s.url, `/data/2.5/weather?lat=1&lon=2&appid=${encodeURIComponent(key)}`);
    expect(rejected.status).toBe(401);
    expect(JSON.parse(rejected.body).message).toContain(key);
  });

  it("closes promptly while a request hangs", async () => {
    const s = await sim({ faults: [{ fault: { kind: "hang" } }] });
    const pending = fetch(`${s.url}${omPath("1", "2")}`).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await s.close();
    started.splice(started.indexOf(s), 1);
    expect(await pending).toBeInstanceOf(Error);
    expect(s.stats().byStatus.hang).toBe(1);
  });
});
