/**
 * Fault: a server that echoes the request — and so the API key — back in its body and headers, in the
 * encodings servers use (literal, URL-encoded, form-encoded, JSON-escaped, base64). After a real ingest
 * through the CLI, the key must appear in none of them anywhere we write: raw objects, stdout/stderr
 * (with --verbose) and every text column of the database.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import type { RawEnvelope } from "#core/ports.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";
import { createFaultHome, defaultSiteCount, type FaultHome } from "./support/fault-home.ts";
import { dumpTextColumns } from "./support/warehouse.ts";

// Every character here changes under some encoding: + / = & (URL and form), é (UTF-8, \u00e9), / (\/).
const KEY = "k3y+/=&é";
const OK_HOUR: Interval = parseInterval("2026-11-22T13");
const REJECTED_HOUR: Interval = parseInterval("2026-11-22T14");

/**
 * The key as a server may echo it. Written out independently of the scrubber, as a grep would.
 * Base64 of a longer text (a whole URL) holds the key's bytes at one of three alignments, so each
 * spelling is also searched as the alignment-independent middle of its base64.
 */
function encodingsOf(key: string): Record<string, string> {
  const uri = encodeURIComponent(key);
  const spellings: Record<string, string> = {
    literal: key,
    encodeURIComponent: uri,
    "encodeURIComponent, lower-case hex": uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    "form encoding": new URLSearchParams({ k: key }).toString().slice(2),
    encodeURI: encodeURI(key),
    "JSON string": JSON.stringify(key).slice(1, -1),
    "JSON, PHP-style \\/ and \\u escapes": JSON.stringify(key)
      .slice(1, -1)
      .replaceAll("/", "\\/")
      .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
  };
  const out: Record<string, string> = { ...spellings };
  for (const [name, text] of Object.entries({ literal: key, encodeURIComponent: uri })) {
    const bytes = Buffer.from(text, "utf8");
    out[`base64 of ${name}`] = bytes.toString("base64");
    out[`base64url of ${name}`] = bytes.toString("base64url");
    for (let pad = 0; pad < 3; pad++) {
      const b64 = Buffer.concat([Buffer.alloc(pad), bytes]).toString("base64");
      out[`base64 of ${name} inside a longer text (offset ${pad})`] = b64.slice(
        Math.ceil((pad * 8) / 6),
        Math.floor(((pad + bytes.length) * 8) / 6),
      );
    }
  }
  return out;
}

const ENCODINGS = Object.entries(encodingsOf(KEY));

/** Every encoding found in `text`, by name: what a leak report needs. */
function leaks(text: string): string[] {
  return ENCODINGS.filter(([, needle]) => text.includes(needle)).map(([name]) => name);
}

let sim: Simulator;
let home: FaultHome;
const seenByServer: string[] = [];
const outputs: { stdout: string; stderr: string }[] = [];
let codes: (number | null)[] = [];

beforeAll(async () => {
  sim = await startSimulator({ clock: () => intervalStart(OK_HOUR), apiKey: KEY });
  home = await createFaultHome("secrets");
  const env = {
    OPENWEATHER_BASE_URL: sim.url,
    OPENWEATHER_API_KEY: KEY,
    // The free tier's 60 calls/min would make 22 sites wait a minute; the limiter is not under test here.
    OPENWEATHER_CALLS_PER_MINUTE: "60000",
    OPENWEATHER_CALLS_PER_HOUR: "1000000",
    OPENWEATHER_CALLS_PER_DAY: "1000000",
    OPENWEATHER_CONCURRENCY: "4",
  };
  // A run whose every answer echoes the key, then one whose key is "rejected" with an echoing 401.
  sim.setFaults([{ api: "openweather", fault: { kind: "echo-request" } }]);
  const ok = await home.weather(
    ["ingest", "--source", "openweather", "--interval", OK_HOUR, "--verbose", "--json"],
    env,
  );
  sim.setFaults([{ api: "openweather", times: 1, fault: { kind: "echo-request", status: 401 } }]);
  const rejected = await home.weather(
    ["ingest", "--source", "openweather", "--interval", REJECTED_HOUR, "--verbose", "--json"],
    env,
  );
  outputs.push(ok, rejected);
  codes = [ok.code, rejected.code];
  seenByServer.push(String(sim.stats().requests));
});
afterAll(async () => {
  await sim.close();
  await home.destroy();
});

describe("the API key echoed back in every encoding", () => {
  it("the echoing server really did echo it (the check below can fail)", async () => {
    // Prepare: ask the simulator directly, as the provider would.
    sim.setFaults([{ fault: { kind: "echo-request" } }]);
    const res = await fetch(
      `${sim.url}/data/2.5/weather?lat=59.9&lon=10.7&units=metric&appid=${encodeURIComponent(KEY)}`,
    );
    const body = await res.text();
    let headers = "";
    res.headers.forEach((v, k) => {
      headers += `${k}: ${v}\n`;
    });
    // Assess: body and headers together carry every encoding the test searches for.
    expect(leaks(`${body}\n${headers}`)).toEqual(ENCODINGS.map(([name]) => name));
    expect(res.headers.get("x-request-url")).toContain(encodeURIComponent(KEY));
  });

  it("the runs went as expected: all sites ok, then exit 2 on the rejected key", async () => {
    const sites = await defaultSiteCount();
    expect(codes).toEqual([0, 2]);
    expect(JSON.parse(outputs[0]?.stdout ?? "")).toMatchObject({ status: "succeeded", sitesOk: sites });
    expect(outputs[1]?.stderr).toContain("rejected the API key from OPENWEATHER_API_KEY");
  });

  it("is absent from every raw object", async () => {
    const raw = await home.raw();
    expect(raw.size).toBeGreaterThan(1);
    for (const [key, text] of raw) expect(leaks(text), key).toEqual([]);
    // The echo reached raw, scrubbed: the body kept its fields.
    const envelopes = [...raw.values()].map((t) => JSON.parse(t) as RawEnvelope);
    expect(envelopes.some((e) => e.body.includes('"appid_uri":"REDACTED"'))).toBe(true);
  });

  it("is absent from stdout and stderr, --verbose included", () => {
    for (const { stdout, stderr } of outputs) {
      expect(leaks(stdout)).toEqual([]);
      expect(leaks(stderr)).toEqual([]);
    }
    // --verbose really logged something to search.
    expect(outputs.map((o) => o.stderr.length).every((n) => n > 0)).toBe(true);
  });

  it("is absent from every text column of the database", async () => {
    const values = await home.withDb(dumpTextColumns);
    const columns = new Set(values.map((v) => v.column));
    // The dump covers the tables the echo reaches: bronze payloads, the ledger and its errors.
    expect(columns).toContain("bronze.weather_observations.payload");
    expect(columns).toContain("ops.ingestion_runs.error");
    const found = values.flatMap((v) => leaks(v.value).map((name) => `${v.column}: ${name}`));
    expect(found).toEqual([]);
    expect(values.some((v) => v.value.includes("REDACTED"))).toBe(true);
  });
});
