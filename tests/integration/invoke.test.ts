/**
 * `weather invoke` as a developer runs it: the real middy-wrapped handlers in the CLI's process, one
 * JSON document on stdout (the handler's result, or the error), the handler's logs and EMF lines on
 * stderr, exit 0 / 1 (the handler threw) / 2 (an event it rejects). The embedded PGlite in a fresh
 * home, or a throw-away Postgres database when DATABASE_URL is set.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, weather as runWeather, startWeather } from "../faults/support/cli.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const ROOT = join(import.meta.dirname, "..", "..");
let home: string;
let emptyHome: string;
let server: TestDatabase | undefined;
let emptyServer: TestDatabase | undefined;
let dbArgs: string[] = [];
let emptyDbArgs: string[] = [];

function weather(...args: string[]): Promise<CliResult> {
  return runWeather(args, { timeoutMs: 120_000 });
}

/** The CLI with `input` on stdin (the shared runner ignores stdin). */
function weatherWithStdin(input: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/weather.js", ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, timedOut: false }));
    child.stdin.end(input);
  });
}

/** stderr's JSON lines (the handler's structured logs and EMF documents). */
function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "wdo-invoke-"));
  emptyHome = await mkdtemp(join(tmpdir(), "wdo-invoke-empty-"));
  if (process.env.DATABASE_URL) {
    server = await createTestDatabase({ migrate: false });
    emptyServer = await createTestDatabase({ migrate: false });
    dbArgs = ["--db", server.url];
    emptyDbArgs = ["--db", emptyServer.url];
  }
});
afterAll(async () => {
  await server?.destroy();
  await emptyServer?.destroy();
  await rm(home, { recursive: true, force: true });
  await rm(emptyHome, { recursive: true, force: true });
});

describe("weather invoke", () => {
  it("runs the ingest handler on a scheduled event from a fresh home: result on stdout, logs and EMF on stderr", async () => {
    const res = await weather(
      "invoke",
      "ingest",
      "--event",
      "events/scheduled.json",
      "--source",
      "simulator",
      "--home",
      home,
      ...dbArgs,
    );
    expect(res.stderr).not.toContain("connection lost");
    expect(res.code).toBe(0);
    // The whole of stdout is the handler's result: the scheduled event's 13:05 is the hour 13.
    expect(JSON.parse(res.stdout)).toEqual({
      runId: "simulator:2026-11-22T13",
      interval: "2026-11-22T13",
      status: "succeeded",
      sitesOk: 22,
      sitesFailed: 0,
      sitesQuarantined: 0,
      observationsLoaded: 22,
    });
    const lines = jsonLines(res.stderr);
    // Powertools' lines carry the Lambda-like context the middleware injected.
    expect(lines.find((l) => l.message === "ingestion finished")).toMatchObject({
      function_name: "weather-dataops-ingest",
      function_memory_size: "512",
      function_arn: "arn:aws:lambda:us-east-1:000000000000:function:weather-dataops-ingest",
      cold_start: true,
      function_request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    const emf = lines.find((l) => "_aws" in l);
    expect(emf).toMatchObject({ SitesSucceeded: 22, ObservationsLoaded: 22, DbErrors: 0 });
  });

  it("reads the event from stdin with --event -", async () => {
    const event = await readFile(join(ROOT, "events/replay.json"), "utf8");
    const res = await weatherWithStdin(event, [
      "invoke",
      "ingest",
      "--event",
      "-",
      "--source",
      "simulator",
      "--home",
      home,
      "--json",
      ...dbArgs,
    ]);
    expect(res.code).toBe(0);
    // The same hour again: nothing new to load, the run still succeeds.
    expect(JSON.parse(res.stdout)).toMatchObject({
      runId: "simulator:2026-11-22T13",
      status: "succeeded",
      sitesOk: 22,
    });
  });

  it("runs each workflow task's sample event, in the state machine's order", async () => {
    const steps = [
      ["transform", "transform-silver.json", { layer: "silver", interval: "2026-11-22T13" }],
      ["check-quality", "check-quality-silver.json", { layers: ["silver"], passed: true }],
      ["transform", "transform-gold.json", { layer: "gold", interval: "2026-11-22T13" }],
      ["check-quality", "check-quality-gold.json", { layers: ["gold"], passed: true }],
    ] as const;
    for (const [fn, file, expected] of steps) {
      const res = await weather(
        "invoke",
        fn,
        "--event",
        `events/${file}`,
        "--home",
        home,
        "--json",
        ...dbArgs,
      );
      expect(res.code, `${file}: ${res.stderr}`).toBe(0);
      expect(JSON.parse(res.stdout)).toMatchObject(expected);
      expect(jsonLines(res.stderr).some((l) => "_aws" in l)).toBe(true);
    }
    const status = await weather("status", "--home", home, "--json", ...dbArgs);
    expect(JSON.parse(status.stdout).layers.gold).toMatchObject({ site_hourly: 22 });
  });

  it("heals a week for every sample site on the embedded default (a bulk load the handler gets by URL)", async () => {
    // The handler reaches the embedded PGlite through its loopback URL; 22 sites × 168 hours is past the
    // size where bronze would switch to COPY, which PGlite's socket server does not speak.
    const healHome = await mkdtemp(join(tmpdir(), "wdo-invoke-heal-"));
    try {
      const res = await weather(
        "invoke",
        "heal",
        "--event",
        "events/heal.json",
        "--source",
        "simulator",
        "--home",
        healHome,
        "--json",
      );
      expect(res.code, res.stderr).toBe(0);
      expect(JSON.parse(res.stdout)).toMatchObject({
        siteHoursMissingBefore: 22 * 168,
        siteHoursFilled: 22 * 168,
        gapsRemaining: 0,
      });
    } finally {
      await rm(healHome, { recursive: true, force: true });
    }
  });

  it("exits 2 on the bad sample event, naming the field, in the JSON error and on stderr", async () => {
    const res = await weather(
      "invoke",
      "transform",
      "--event",
      "events/bad-transform-layer.json",
      "--home",
      home,
      "--json",
      ...dbArgs,
    );
    expect(res.code).toBe(2);
    const doc = JSON.parse(res.stdout);
    expect(doc).toMatchObject({ error: { name: "InvalidEventError" }, exitCode: 2 });
    expect(doc.error.message).toContain("layer: Invalid option");
    expect(res.stderr).toContain("layer: Invalid option");
  });

  it("exits 2 when --event is not JSON or cannot be read, before opening anything", async () => {
    const file = join(emptyHome, "not-json.json");
    await writeFile(file, "{ interval: 2026 }");
    const bad = await weather("invoke", "ingest", "--event", file, "--home", emptyHome, "--json");
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).error.message).toContain(`--event ${file}: not JSON`);
    const untouched = join(emptyHome, "untouched");
    const missing = await weather(
      "invoke",
      "transform",
      "--event",
      "events/nope.json",
      "--home",
      untouched,
      "--json",
    );
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).error.message).toContain("--event events/nope.json: cannot read it");
    const none = await weather("invoke", "transform", "--home", untouched, "--json");
    expect(none.code).toBe(2);
    expect(JSON.parse(none.stdout).error.message).toContain("--event is required for transform");
    // Nothing was opened: the home was never created.
    await expect(stat(untouched)).rejects.toThrow(/ENOENT/);
  });

  it("exits 1 with the handler's error in JSON when the handler throws", async () => {
    // Gold checks on an empty database: the freshness check fails, the handler throws as in Lambda.
    const res = await weather(
      "invoke",
      "check-quality",
      "--event",
      "events/check-quality-gold.json",
      "--home",
      emptyHome,
      "--json",
      ...emptyDbArgs,
    );
    expect(res.code).toBe(1);
    const doc = JSON.parse(res.stdout);
    expect(doc).toMatchObject({ error: { name: "QualityCheckFailedError" }, exitCode: 1 });
    expect(doc.error.message).toContain("gold__freshness");
    // The metrics were still flushed, on stderr: the alarm sees the failure.
    expect(jsonLines(res.stderr).find((l) => "_aws" in l)).toMatchObject({ QualityCheckFailed: 1 });
  });

  it("--watch runs again when a watched file changes", async () => {
    const watched = await mkdtemp(join(tmpdir(), "wdo-invoke-watch-"));
    const watching = "for changes (Ctrl-C stops)";
    const proc = startWeather(
      [
        "invoke",
        "transform",
        "--event",
        "events/transform-silver.json",
        "--watch",
        "--watch-path",
        watched,
        "--home",
        home,
        ...dbArgs,
      ],
      { timeoutMs: 120_000 },
    );
    let stderr = "";
    proc.child.stderr?.on("data", (chunk: string) => {
      stderr += chunk;
    });
    const runsDone = () => stderr.split(watching).length - 1;
    try {
      await proc.stderrIncludes(watching);
      await writeFile(join(watched, "changed.ts"), "export {};\n");
      await proc.stderrIncludes("changed.ts changed; invoking again");
      while (runsDone() < 2 && proc.child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      expect(runsDone()).toBe(2);
    } finally {
      proc.child.kill("SIGINT");
    }
    const res = await proc.done;
    await rm(watched, { recursive: true, force: true });
    expect(res.code).toBe(0);
    // One result document per run.
    const docs = res.stdout.split(/\n(?=\{)/).map((d) => JSON.parse(d));
    expect(docs).toHaveLength(2);
    expect(docs[1]).toMatchObject({ layer: "silver", interval: "2026-11-22T13" });
  });
});
