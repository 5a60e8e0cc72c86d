/**
 * functions/ingest.ts as Lambda runs it: env validated at import, an EventBridge scheduled event or a
 * replay request in, a small summary out, and the EMF metrics the alarms watch on stdout.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { intervalStart, parseInterval } from "#core/domain/interval.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const INTERVAL = parseInterval("2026-11-22T13");
let db: TestDatabase;
let sim: Simulator;
let rawDir: string;
let ingest: typeof import("#functions/ingest.ts");

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator({ clock: () => intervalStart(INTERVAL) });
  rawDir = await mkdtemp(join(tmpdir(), "wdo-handler-"));
  // The handler reads its configuration once, at import — as at a Lambda cold start.
  vi.stubEnv("DATABASE_URL", db.url);
  vi.stubEnv("RAW_STORE", rawDir);
  vi.stubEnv("WEATHER_SOURCE", "open-meteo");
  vi.stubEnv("OPEN_METEO_BASE_URL", sim.url);
  vi.stubEnv("SITES_FILE", "config/sites.json");
  vi.stubEnv("POWERTOOLS_SERVICE_NAME", "weather-dataops-test");
  ingest = await import("#functions/ingest.ts");
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await sim?.close();
  await db?.destroy();
  await rm(rawDir, { recursive: true, force: true });
});

describe("ingest handler", () => {
  // The wrapped handler first: the bare lambdaHandler adds metrics that only middy's logMetrics flushes.
  it("emits the EMF metrics the alarms watch, through the middy-wrapped handler", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const context = {
        functionName: "ingest",
        awsRequestId: "req-1",
        getRemainingTimeInMillis: () => 60_000,
      };
      await ingest.handler({ interval: "2026-11-22T13" }, context as unknown as Context);
    } finally {
      spy.mockRestore();
    }
    const emf = lines
      .flatMap((l) => l.split("\n"))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l));
    const names = emf.flatMap((e) =>
      e._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name),
    );
    for (const metric of [
      "SitesSucceeded",
      "SitesFailed",
      "SiteFailureRatio",
      "FetchLatencyMs",
      "ObservationsLoaded",
      "DbErrors",
    ])
      expect(names).toContain(metric);
    const doc = emf.find((e) => "SiteFailureRatio" in e);
    expect(doc.SiteFailureRatio).toBe(0);
    expect(doc.SitesSucceeded).toBe(22);
    expect(doc.service).toBe("weather-dataops-test");
  });

  it("answers the workflow's ingest phase: plan, each manifest item, complete — with their metrics", async () => {
    // Prepare: shards of 10 (INGEST_SHARD_SIZE is read per step from the same config as the function's).
    const hour = "2026-11-22T13";
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const context = { functionName: "ingest", awsRequestId: "req-2", getRemainingTimeInMillis: () => 60_000 };
    const invoke = (event: object) =>
      ingest.handler(event, context as unknown as Context) as Promise<unknown>;
    let plan: { manifestKey: string; shards: number };
    let reports: unknown[];
    let summary: unknown;
    try {
      // Act: what the state machine sends, in order; the items as the ItemReader reads them.
      plan = (await invoke({ action: "plan", interval: hour, retryCount: 0 })) as typeof plan;
      const { readFile } = await import("node:fs/promises");
      const items = JSON.parse(await readFile(join(rawDir, plan.manifestKey), "utf8")) as object[];
      reports = [];
      for (const item of items) reports.push(await invoke({ action: "shard", item, retryCount: 1 }));
      summary = await invoke({ action: "complete", interval: hour, shards: reports, retryCount: 0 });
    } finally {
      spy.mockRestore();
    }
    // Assess: 22 sites in one shard (the default size, 1,000), counted over the run.
    expect(plan.shards).toBe(1);
    expect(reports).toEqual([expect.objectContaining({ shard: 1, status: "succeeded", sitesOk: 22 })]);
    expect(summary).toMatchObject({ status: "succeeded", shards: 1, sitesOk: 22, siteFailureRatio: 0 });
    const emf = lines
      .flatMap((l) => l.split("\n"))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l));
    const names = new Set(
      emf.flatMap((e) => e._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)),
    );
    for (const metric of [
      "ObservationsLoaded",
      "FetchLatencyMs",
      "SiteFailureRatio",
      "SitesSucceeded",
      "StepRetries",
    ])
      expect(names).toContain(metric);
    // The shard was told it is a retry: its notice says which state.
    expect(lines.join("")).toMatch(/"state":"IngestShard"/);
  });

  it("takes the interval from an EventBridge scheduled event", async () => {
    const summary = await ingest.lambdaHandler({
      "detail-type": "Scheduled Event",
      source: "aws.events",
      time: "2026-11-22T13:05:00Z",
    });
    expect(summary).toMatchObject({
      interval: "2026-11-22T13",
      status: "succeeded",
      sitesOk: 22,
      sitesFailed: 0,
    });
  });

  it("rejects an event it cannot read with a named error", async () => {
    await expect(ingest.lambdaHandler({ hello: "world" })).rejects.toThrow(
      /Invalid event.*Send an EventBridge/,
    );
  });

  it("fails the invocation and counts DbErrors when the database cannot be reached at all", async () => {
    // Prepare: a fresh container whose DATABASE_URL points at a loopback port nothing listens on.
    vi.resetModules();
    vi.stubEnv("DATABASE_URL", "postgres://postgres@127.0.0.1:9/weather");
    vi.stubEnv("DB_CONNECT_TIMEOUT_MS", "2000");
    const broken = await import("#functions/ingest.ts");
    vi.stubEnv("DATABASE_URL", db.url);
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    // Act
    let error: unknown;
    try {
      const context = {
        functionName: "ingest",
        awsRequestId: "req-2",
        getRemainingTimeInMillis: () => 60_000,
      };
      await broken.handler({ interval: "2026-11-22T13" }, context as unknown as Context);
    } catch (e) {
      error = e;
    } finally {
      spy.mockRestore();
    }
    // Assess
    expect((error as Error)?.name).toMatch(/^Database\w+Error$/);
    const emf = lines
      .flatMap((l) => l.split("\n"))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l));
    expect(emf.find((e) => "DbErrors" in e)?.DbErrors).toBe(1);
  });
});
