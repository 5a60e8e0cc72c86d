/**
 * Fault: exit paths that broke the CLI's contract (issue 10, items 9–11). With --json every exit —
 * a crash included — prints exactly one JSON document on stdout and the message on stderr; replay
 * exits 1 when a replayed run failed; partial-write leftovers in the raw directory are cleaned; an
 * unusable --home or --raw exits 2 naming the flag and path before anything is fetched; hours
 * outside the archive's range exit 2.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/server.ts";
import { type CliResult, weather } from "./support/cli.ts";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "wdo-fault-contracts-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The one JSON document stdout must hold (JSON.parse fails on none or two). */
function onlyDocument(res: CliResult): Record<string, unknown> {
  return JSON.parse(res.stdout) as Record<string, unknown>;
}

describe("--json keeps its contract on every exit path", () => {
  it("a crash (an uncaught error, as a dropped pg connection raises) prints one error document, exit 1", async () => {
    // Preloaded into the CLI: the first query throws outside any promise chain, like pg's 'error' event.
    const pgUrl = pathToFileURL(createRequire(import.meta.url).resolve("pg")).href;
    const preload = join(root, "crash-on-first-query.mjs");
    await writeFile(
      preload,
      `import pg from ${JSON.stringify(pgUrl)};
       const query = pg.Client.prototype.query;
       pg.Client.prototype.query = function (...args) {
         setImmediate(() => { throw new Error("injected: Connection terminated unexpectedly"); });
         return query.apply(this, args);
       };`,
    );
    const res = await weather(["status", "--home", join(root, "crash"), "--json"], {
      nodeArgs: ["--import", preload],
    });
    expect(res.code).toBe(1);
    expect(onlyDocument(res)).toEqual({
      error: { name: "Error", message: "injected: Connection terminated unexpectedly" },
      exitCode: 1,
    });
    expect(res.stderr).toContain("weather: injected: Connection terminated unexpectedly");
  });

  it("a usage error prints one error document, exit 2", async () => {
    const res = await weather(["status", "--colour", "--json"]);
    expect(res.code).toBe(2);
    expect(onlyDocument(res)).toMatchObject({ error: { name: "UsageError" }, exitCode: 2 });
    expect(res.stderr).toContain("unknown option '--colour'");
  });

  it.each([
    ["--interval", ["ingest", "--source", "simulator", "--interval", "2031-01-01T00"]],
    ["--interval", ["ingest", "--source", "simulator", "--interval", "0001-01-01T00"]],
    ["--from", ["backfill", "--source", "simulator", "--from", "1939-12-31T23"]],
    ["--to", ["replay", "--from", "2026-11-20T00", "--to", "2099-01-01T00"]],
    ["--from", ["coverage", "--from", "1900-01-01T00"]],
    ["--interval", ["lineage", "--interval", "3000-01-01T00"]],
  ])("an hour out of range exits 2 naming %s and the range: %j", async (flag, args) => {
    const res = await weather([...args, "--home", join(root, "bounds"), "--json"]);
    expect(res.code).toBe(2);
    const doc = onlyDocument(res) as { error: { name: string; message: string } };
    expect(doc.error.name).toBe("IntervalError");
    expect(doc.error.message).toMatch(new RegExp(`^${flag} \\d{4}-\\d\\d-\\d\\dT\\d\\d is out of range`));
    expect(doc.error.message).toMatch(
      /from 1940-01-01T00 .* to \d{4}-\d\d-\d\dT\d\d \(the current UTC hour \+ 1\)/,
    );
  });
});

describe("replay", () => {
  it("exits 1 when a replayed run failed, 0 when it succeeded", async () => {
    const sim = await startSimulator({
      clock: () => new Date("2026-11-22T05:00:00Z"),
      faults: [{ fault: { kind: "server-error", status: 500 } }],
    });
    const raw = join(root, "replay-raw");
    const env = { OPEN_METEO_BASE_URL: sim.url, HTTP_MAX_ATTEMPTS: "1" };
    try {
      const ingest = await weather(
        [
          "ingest",
          "--source",
          "open-meteo",
          "--interval",
          "2026-11-22T05",
          "--home",
          join(root, "replay-a"),
          "--raw",
          raw,
        ],
        { env },
      );
      expect(ingest.code, ingest.stderr).toBe(1);
    } finally {
      await sim.close();
    }
    const good = await weather([
      "ingest",
      "--source",
      "simulator",
      "--interval",
      "2026-11-22T06",
      "--home",
      join(root, "replay-a"),
      "--raw",
      raw,
    ]);
    expect(good.code, good.stderr).toBe(0);

    const failed = await weather([
      "replay",
      "--from",
      "2026-11-22T05",
      "--home",
      join(root, "replay-b"),
      "--raw",
      raw,
      "--json",
    ]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(onlyDocument(failed)).toMatchObject({ runs: [{ status: "failed", interval: "2026-11-22T05" }] });

    const ok = await weather([
      "replay",
      "--from",
      "2026-11-22T06",
      "--home",
      join(root, "replay-b"),
      "--raw",
      raw,
      "--json",
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(onlyDocument(ok)).toMatchObject({ runs: [{ status: "succeeded", interval: "2026-11-22T06" }] });
  });
});

describe("raw directory", () => {
  it("removes partial-write leftovers of a dead writer on the next ingest into that directory", async () => {
    const raw = join(root, "tmp-raw");
    // A killed earlier run of the hour: its directory holds only the temp file it never linked.
    const hour = join(raw, "source=simulator/date=2026-11-22/hour=07/interval=2026-11-22T07");
    const dir = join(hour, "run=20261122T070000000Z-dead00");
    await mkdir(dir, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    // What a kill or a full disk leaves: a temp file that was never linked to its key.
    await writeFile(join(dir, `batch-0001-try-01.json.${dead}-deadbeef.tmp`), '{"version":1,"bo');
    const res = await weather([
      "ingest",
      "--source",
      "simulator",
      "--interval",
      "2026-11-22T07",
      "--home",
      join(root, "tmp-home"),
      "--raw",
      raw,
      "--json",
    ]);
    expect(res.code, res.stderr).toBe(0);
    const left = await readdir(hour, { recursive: true });
    expect(left.filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(left.filter((n) => n.endsWith(".json")).length).toBeGreaterThan(0);
    expect(onlyDocument(res)).toMatchObject({ status: "succeeded", sitesOk: 22 });
  });
});

describe("unusable --home or --raw", () => {
  let file: string;
  beforeAll(async () => {
    file = join(root, "a-regular-file");
    await writeFile(file, "not a directory");
  });

  it.each([
    ["--home", "under a regular file", () => join(file, "home"), "--home (WEATHER_HOME)"],
    ["--home", "that is a regular file", () => file, "--home (WEATHER_HOME)"],
    ["--raw", "under a regular file", () => join(file, "raw"), "--raw (RAW_STORE)"],
  ])("%s %s exits 2 naming the setting and path, before any fetch", async (flag, _, path, label) => {
    const sim = await startSimulator();
    try {
      const args = ["ingest", "--source", "open-meteo", "--interval", "2026-11-22T08", "--json"];
      const where =
        flag === "--home" ? ["--home", path()] : ["--home", join(root, "ok-home"), "--raw", path()];
      const res = await weather([...args, ...where], { env: { OPEN_METEO_BASE_URL: sim.url } });
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`${label} "${path()}" is not a writable directory: a file is in the way`);
      expect(onlyDocument(res)).toMatchObject({ error: { name: "PathNotWritableError" }, exitCode: 2 });
      expect(sim.stats().requests).toBe(0);
    } finally {
      await sim.close();
    }
  });

  it("a read-only command does not need a writable --raw", async () => {
    const res = await weather([
      "status",
      "--home",
      join(root, "ok-home"),
      "--raw",
      join(file, "raw"),
      "--json",
    ]);
    expect(res.code, res.stderr).toBe(0);
  });
});
