/**
 * The `weather` command as a user runs it: a child process, JSON on stdout, people's text on stderr,
 * exit codes 0 / 1 / 2. Uses the embedded PGlite in a temp home, or a throw-away Postgres database.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, weather as runWeather } from "../faults/support/cli.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let home: string;
let server: TestDatabase | undefined;
let dbArgs: string[] = [];

function weather(...args: string[]): Promise<CliResult> {
  return runWeather(args, { timeoutMs: 120_000 });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "wdo-cli-"));
  if (process.env.DATABASE_URL) {
    server = await createTestDatabase({ migrate: false });
    dbArgs = ["--db", server.url];
  }
});
afterAll(async () => {
  await server?.destroy();
  await rm(home, { recursive: true, force: true });
});

describe("weather CLI", () => {
  it("ingests from the simulator, prints one JSON document, and status reports it", async () => {
    const ingest = await weather(
      "ingest",
      "--source",
      "simulator",
      "--interval",
      "2026-11-22T13",
      "--home",
      home,
      "--json",
      ...dbArgs,
    );
    expect(ingest.code).toBe(0);
    const doc = JSON.parse(ingest.stdout);
    expect(doc).toMatchObject({
      status: "succeeded",
      sitesOk: 22,
      sitesFailed: 0,
      interval: "2026-11-22T13",
    });
    expect(ingest.stderr).toContain("Ingesting 22 sites");

    const status = await weather("status", "--home", home, "--json", ...dbArgs);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.layers.bronze.weather_observations).toBe(22);
    expect(report.lastIngestionRuns[0]).toMatchObject({
      // Simulated data keeps its own label: it can never pass for (or replace) real Open-Meteo data.
      runId: "simulator:2026-11-22T13",
      status: "succeeded",
    });
    expect(report.freshness.latestObservedAt).toBe("2026-11-22T13:00:00.000Z");
  });

  it("exits 2 on a bad sites file, naming the file, the entry and the field", async () => {
    const file = join(home, "bad-sites.json");
    await writeFile(
      file,
      JSON.stringify([
        { id: "oslo", name: "Oslo", lat: 59.9, lon: 10.7, timezone: "Europe/Oslo", country: "NO" },
        { id: "atlantis", name: "Atlantis", lat: 123, lon: 0, timezone: "UTC", country: "XX" },
      ]),
    );
    const res = await weather("ingest", "--source", "simulator", "--sites", file, "--home", home);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(file);
    expect(res.stderr).toContain('entry 1 (id "atlantis"), field "lat"');
  });

  it("exits 2 on a bad interval and on an unknown option; --help exits 0", async () => {
    expect((await weather("ingest", "--interval", "yesterday", "--home", home)).code).toBe(2);
    const future = await weather(
      "ingest",
      "--interval",
      "2099-01-01T00",
      "--home",
      home,
      "--json",
      ...dbArgs,
    );
    expect(future.code).toBe(2);
    expect(JSON.parse(future.stdout)).toMatchObject({
      error: {
        name: "IntervalError",
        message: expect.stringMatching(/^--interval 2099-01-01T00 is out of range/),
      },
      exitCode: 2,
    });
    const unknown = await weather("ingest", "--colour");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option");
    const help = await weather("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("ingest");
  });
});
