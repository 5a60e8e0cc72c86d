/**
 * The one ASL file, executed by the embedded engine with the real task functions: retries, Catch →
 * notification, quality gates, and execution names derived from the interval.
 */

import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import validator from "asl-validator";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { PgOpsLedger } from "#core/adapters/pg-ops-ledger.ts";
import { PgStatusReader } from "#core/adapters/pg-status-reader.ts";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import { loadSites } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { createProvider } from "#core/providers/index.ts";
import { ingestInterval } from "#core/use-cases/ingest.ts";
import { readStatus } from "#core/use-cases/status.ts";
import { type EngineTasks, loadDefinition, runEmbeddedWorkflow } from "#core/workflow/embedded-engine.ts";
import { checkQualityTask, transformTask } from "#core/workflow/tasks.ts";
import {
  applyTimeLimits,
  DEFAULT_TIME_LIMITS,
  TIMED_STATES,
  TimeLimitError,
  timeLimitProblems,
  timeLimitsFromConfig,
} from "#core/workflow/time-limits.ts";
import { startSimulator } from "../../simulator/server.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const INTERVAL: Interval = parseInterval("2026-11-22T13");
let db: TestDatabase;
let rawDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  rawDir = await mkdtemp(join(tmpdir(), "wdo-wf-"));
  const sim = await startSimulator({ clock: () => intervalStart(INTERVAL) });
  try {
    const config = loadConfig({ OPEN_METEO_BASE_URL: sim.url }, {});
    await ingestInterval(
      {
        provider: createProvider(config, "open-meteo"),
        rawStore: fsRawStore(rawDir),
        bronze: pgBronzeRepository(db.pool),
        policy: { timeoutMs: 2000, maxAttempts: 2, backoffBaseMs: 5, backoffMaxMs: 10 },
        log: memoryLog(),
      },
      { interval: INTERVAL, sites: await loadSites("config/sites.json"), failureThreshold: 0.1 },
    );
  } finally {
    await sim.close();
  }
});
afterAll(async () => {
  await db?.destroy();
  await rm(rawDir, { recursive: true, force: true });
});

function realTasks(): EngineTasks {
  const deps = { pool: db.pool, log: memoryLog() };
  return {
    Silver: (i) => transformTask(deps, i),
    SilverChecks: (i) => checkQualityTask(deps, i),
    Gold: (i) => transformTask(deps, i),
    QualityChecks: (i) => checkQualityTask(deps, i),
  };
}

const run = (tasks: EngineTasks, executionName: string, force = false) =>
  runEmbeddedWorkflow(
    { ledger: new PgOpsLedger(db.pool), log: memoryLog(), tasks },
    { interval: INTERVAL, executionName },
    { retryIntervalMs: 0, force },
  );

const notifications = async (executionName: string) =>
  (
    await db.pool.query("select message from ops.notifications where execution_name = $1", [executionName])
  ).rows.map((r) => r.message);

describe("the ASL definition", () => {
  it("passes asl-validator and keeps to JSONPath", () => {
    const definition = loadDefinition();
    const { isValid, errors } = validator(structuredClone(definition));
    expect(errors).toEqual([]);
    expect(isValid).toBe(true);
    expect(JSON.stringify(definition)).not.toContain('"QueryLanguage":"JSONata"');
  });

  it("gives every Task a jittered, capped Retry and a Catch that notifies before failing", () => {
    const states = loadDefinition().States as Record<string, Record<string, unknown>>;
    const tasks = Object.entries(states).filter(([, s]) => s.Type === "Task");
    expect(tasks.map(([n]) => n).sort()).toEqual([
      "CompleteIngestion",
      "Gold",
      "NotifyFailure",
      "PlanIngest",
      "QualityChecks",
      "Silver",
      "SilverChecks",
    ]);
    for (const [name, s] of tasks) {
      const retry = (s.Retry as Record<string, unknown>[]).find((r) =>
        (r.ErrorEquals as string[]).includes("States.ALL"),
      );
      expect(retry, name).toMatchObject({ JitterStrategy: "FULL", BackoffRate: 2 });
      expect(retry?.MaxDelaySeconds, name).toBeGreaterThan(0);
      expect(retry?.IntervalSeconds, name).toBeGreaterThan(0);
      expect(retry?.MaxAttempts, name).toBeGreaterThan(0);
      if (name === "NotifyFailure") continue;
      const handler = (s.Catch as { Next: string }[])[0]?.Next as string;
      expect(states[handler]?.Next).toBe("NotifyFailure");
    }
    expect(states.NotifyFailure?.Resource).toBe("arn:aws:states:::sns:publish");
    expect(states.NotifyFailure?.Next).toBe("Failed");
  });

  it("gives the execution and every Task a time limit; the file's are the defaults", () => {
    const file = JSON.parse(readFileSync("workflows/pipeline.asl.json", "utf8"));
    type State = { Type: string; TimeoutSeconds?: number; ItemProcessor?: { States: Record<string, State> } };
    // The Map's shard task included.
    const all = (states: Record<string, State>): [string, State][] =>
      Object.entries(states).flatMap(([n, s]) => [
        [n, s] as [string, State],
        ...all(s.ItemProcessor?.States ?? {}),
      ]);
    const tasks = all(file.States)
      .filter(([, s]) => s.Type === "Task")
      .map(([n, s]) => [n, s.TimeoutSeconds]);
    expect(Object.fromEntries(tasks)).toEqual(DEFAULT_TIME_LIMITS.tasks);
    expect([...TIMED_STATES].sort()).toEqual(tasks.map(([n]) => n).sort());
    expect(file.TimeoutSeconds).toBe(DEFAULT_TIME_LIMITS.executionSeconds);
    expect(timeLimitProblems(file)).toEqual([]);
  });

  it("passes $$.State.RetryCount to every Lambda task, and States.ALL (which matches States.Timeout) is retried then caught", () => {
    const states = loadDefinition().States as Record<string, Record<string, unknown>>;
    for (const name of ["Silver", "SilverChecks", "Gold", "QualityChecks"]) {
      expect(states[name]?.Parameters, name).toMatchObject({ "retryCount.$": "$$.State.RetryCount" });
      const retriers = states[name]?.Retry as { ErrorEquals: string[]; MaxAttempts: number }[];
      const first = retriers.find(
        (r) => r.ErrorEquals.includes("States.Timeout") || r.ErrorEquals.includes("States.ALL"),
      );
      expect(first?.ErrorEquals, name).toContain("States.ALL");
      expect(first?.MaxAttempts, name).toBeGreaterThan(0);
      const catchers = (states[name]?.Catch ?? []) as { ErrorEquals: string[] }[];
      expect(catchers[0]?.ErrorEquals).toEqual(["States.ALL"]);
    }
  });

  it("takes its time limits from the settings, which the environment can change", () => {
    const config = loadConfig({ WORKFLOW_SILVER_TIMEOUT_SECONDS: "7", WORKFLOW_TIMEOUT_SECONDS: "2400" }, {});
    const def = loadDefinition(undefined, timeLimitsFromConfig(config)) as {
      TimeoutSeconds: number;
      States: Record<string, { TimeoutSeconds?: number }>;
    };
    expect(def.TimeoutSeconds).toBe(2400);
    expect(def.States.Silver?.TimeoutSeconds).toBe(7);
    expect(def.States.Gold?.TimeoutSeconds).toBe(DEFAULT_TIME_LIMITS.tasks.Gold);
    const { isValid, errors } = validator(structuredClone(def));
    expect(errors).toEqual([]);
    expect(isValid).toBe(true);
    expect(() => loadConfig({ WORKFLOW_GOLD_TIMEOUT_SECONDS: "0" }, {})).toThrow(
      /WORKFLOW_GOLD_TIMEOUT_SECONDS/,
    );
  });

  it("refuses a Task without a limit and flags an execution limit below the worst case of its retries", () => {
    const file = JSON.parse(readFileSync("workflows/pipeline.asl.json", "utf8"));
    const { NotifyFailure: _, ...fewer } = DEFAULT_TIME_LIMITS.tasks;
    expect(() =>
      applyTimeLimits(file, { ...DEFAULT_TIME_LIMITS, tasks: fewer as typeof DEFAULT_TIME_LIMITS.tasks }),
    ).toThrow(TimeLimitError);
    expect(() =>
      applyTimeLimits(file, { ...DEFAULT_TIME_LIMITS, tasks: { ...DEFAULT_TIME_LIMITS.tasks, Silver: 1.5 } }),
    ).toThrow(/Silver=1.5/);
    const short = applyTimeLimits(file, { ...DEFAULT_TIME_LIMITS, executionSeconds: 600 });
    expect(timeLimitProblems(short).join()).toMatch(/at least \d+ s/);
  });

  it("gates Gold behind SilverChecks (silver checks only) and checks gold after it", () => {
    const states = loadDefinition().States as Record<string, Record<string, unknown>>;
    expect(states.Silver?.Next).toBe("SilverChecks");
    expect(states.SilverChecks?.Next).toBe("Gold");
    expect(states.Gold?.Next).toBe("QualityChecks");
    expect(states.SilverChecks?.Resource).toBe(states.QualityChecks?.Resource);
    expect(states.SilverChecks?.Parameters).toMatchObject({ layer: "silver" });
    expect(states.QualityChecks?.Parameters).toMatchObject({ layer: "gold" });
    const retriers = (states.SilverChecks?.Retry ?? []) as { ErrorEquals: string[]; MaxAttempts: number }[];
    const noRetry = retriers[0];
    expect(noRetry).toMatchObject({ MaxAttempts: 0 });
    expect(noRetry?.ErrorEquals).toContain("QualityCheckFailedError");
    const handler = ((states.SilverChecks?.Catch ?? []) as { Next: string }[])[0]?.Next as string;
    expect(states[handler]?.Parameters).toMatchObject({ failedState: "SilverChecks" });
  });
});

/** The names of the states an embedded execution entered, in order (its recorded history). */
async function enteredStates(executionName: string): Promise<string[]> {
  const { rows } = await db.pool.query(
    "select events from ops.workflow_executions where execution_name = $1",
    [executionName],
  );
  const events = (rows[0]?.events ?? []) as { type?: string; state?: { name?: string } }[];
  // Task and Pass states: the transform-only route's Choice is left out.
  return events
    .filter((e) => e.type === "StateEntered" && e.state?.name !== "Route")
    .map((e) => e.state?.name ?? "?");
}

describe("embedded execution", () => {
  it("runs silver → silver checks → gold → gold checks to success and fills gold", async () => {
    const result = await run(realTasks(), "happy");
    expect(result).toMatchObject({ status: "succeeded", retries: 0, failedState: null });
    const { rows } = await db.pool.query("select count(*) as n from gold.v_site_hourly where hour = $1", [
      intervalStart(INTERVAL),
    ]);
    expect(rows[0].n).toBe(22);
    expect(await enteredStates("happy")).toEqual([
      "Silver",
      "SilverChecks",
      "Gold",
      "QualityChecks",
      "Succeeded",
    ]);
    // Each layer's checks ran once, in its own state.
    const runs = await db.pool.query(
      `select layers from ops.quality_check_runs r
       where started_at >= (select started_at from ops.workflow_executions where execution_name = 'happy')
       order by run_id`,
    );
    expect(runs.rows.map((r) => r.layers)).toEqual([["silver"], ["gold"]]);
  });

  it("stops at a failing silver check before Gold, without retrying it, and notifies", async () => {
    let goldCalls = 0;
    let checkCalls = 0;
    const tasks = realTasks();
    const gated: EngineTasks = {
      ...tasks,
      SilverChecks: async (input) => {
        checkCalls += 1;
        // Lose one silver row so that silver__matches_bronze (severity error) fails for real.
        await db.pool.query(
          `delete from silver.observations
           where hour = $1 and site_id = (select min(site_id) from silver.observations where hour = $1)`,
          [intervalStart(INTERVAL)],
        );
        return tasks.SilverChecks(input);
      },
      Gold: async (input) => {
        goldCalls += 1;
        return tasks.Gold(input);
      },
    };
    const result = await run(gated, "silver-gate");
    expect(result).toMatchObject({
      status: "failed",
      failedState: "SilverChecks",
      error: "QualityCheckFailedError",
    });
    expect(checkCalls).toBe(1);
    expect(goldCalls).toBe(0);
    expect(await enteredStates("silver-gate")).toEqual([
      "Silver",
      "SilverChecks",
      "SilverChecksFailed",
      "NotifyFailure",
      "Failed",
    ]);
    const [message] = await notifications("silver-gate");
    expect(message).toMatchObject({ interval: INTERVAL, failedState: "SilverChecks" });
    // `weather status` names the failed check of the gate's last run.
    const status = await readStatus(new PgStatusReader(db.pool));
    expect(status.lastQualityChecks[0]).toMatchObject({
      layers: ["silver"],
      interval: INTERVAL,
      checksFailed: 1,
    });
    expect(status.lastQualityChecks[0]?.problems).toContainEqual(
      expect.objectContaining({ name: "silver__matches_bronze", severity: "error", failingRows: 1 }),
    );
    expect(status.lastQualityChecks.map((r) => r.layers)).toContainEqual(["gold"]);
  });

  it("retries a task that throws twice, then succeeds; each retry knows its count and leaves a warning", async () => {
    let calls = 0;
    const seen: unknown[] = [];
    const tasks = realTasks();
    const flaky: EngineTasks = {
      ...tasks,
      Silver: async (input) => {
        calls += 1;
        seen.push((input as { retryCount?: unknown }).retryCount);
        if (calls <= 2) throw Object.assign(new Error("connection reset"), { name: "TransientDbError" });
        return tasks.Silver(input);
      },
    };
    const log = memoryLog();
    const result = await runEmbeddedWorkflow(
      { ledger: new PgOpsLedger(db.pool, log), log, tasks: flaky },
      { interval: INTERVAL, executionName: "flaky" },
      { retryIntervalMs: 0 },
    );
    expect(calls).toBe(3);
    expect(seen).toEqual([0, 1, 2]);
    expect(result.status).toBe("succeeded");
    expect(result.retries).toBe(2);
    expect(result.retriesByState).toEqual({ Silver: 2 });
    const warnings = log.entries.filter((e) => e.level === "warn" && e.message.startsWith("step retried"));
    expect(warnings.map((w) => w.attributes)).toEqual([
      expect.objectContaining({
        state: "Silver",
        retryCount: 1,
        error: "TransientDbError",
        metric: "StepRetries",
      }),
      expect.objectContaining({ state: "Silver", retryCount: 2, error: "TransientDbError" }),
    ]);
    expect(await notifications("flaky")).toEqual([]);
  });

  it("sends a task that always throws through Catch, records the notification, and fails", async () => {
    const tasks = { ...realTasks(), Gold: async () => Promise.reject(new Error("gold is broken")) };
    const result = await run(tasks, "broken");
    expect(result.status).toBe("failed");
    expect(result.failedState).toBe("Gold");
    expect(result.retries).toBe(3); // MaxAttempts 3 on States.ALL
    const [message] = await notifications("broken");
    expect(message).toMatchObject({ interval: INTERVAL, failedState: "Gold" });
    expect(JSON.stringify(message)).toContain("gold is broken");
    const { rows } = await db.pool.query(
      "select status, failed_state from ops.workflow_executions where execution_name = 'broken'",
    );
    expect(rows[0]).toEqual({ status: "failed", failed_state: "Gold" });
  });

  it("does not retry a failed quality check: data problems are not transient", async () => {
    let calls = 0;
    const tasks = realTasks();
    const failing: EngineTasks = {
      ...tasks,
      QualityChecks: async () => {
        calls += 1;
        throw Object.assign(new Error("gold__daily_min_le_max returned rows"), {
          name: "QualityCheckFailedError",
        });
      },
    };
    const result = await run(failing, "bad-data");
    expect(calls).toBe(1);
    expect(result).toMatchObject({
      status: "failed",
      failedState: "QualityChecks",
      error: "QualityCheckFailedError",
    });
  });

  it("treats a second trigger of a succeeded execution name as a no-op", async () => {
    let calls = 0;
    const tasks = realTasks();
    const counting: EngineTasks = {
      ...tasks,
      Silver: (i) => {
        calls += 1;
        return tasks.Silver(i);
      },
    };
    expect((await run(counting, "dup")).status).toBe("succeeded");
    expect((await run(counting, "dup")).status).toBe("skipped");
    expect(calls).toBe(1);
    expect((await run(counting, "dup", true)).status).toBe("succeeded");
    expect(calls).toBe(2);
  });
});

describe("Lambda handlers: the retry notice and the quality metrics", () => {
  /** Runs the middy-wrapped handler as Lambda would and returns what it printed (logs and EMF). */
  async function invoke(handler: (e: unknown, c: Context) => Promise<unknown>, event: unknown) {
    const lines: string[] = [];
    let error: unknown;
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    // Powertools prints warnings through console.warn (stderr); Lambda ships both streams to the log.
    const spies = [
      vi.spyOn(process.stdout, "write").mockImplementation(capture),
      vi.spyOn(process.stderr, "write").mockImplementation(capture),
    ];
    try {
      const context = { functionName: "t", awsRequestId: "r", getRemainingTimeInMillis: () => 60_000 };
      await handler(event, context as unknown as Context);
    } catch (e) {
      error = e;
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const docs = lines
      .flatMap((l) => l.split("\n"))
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const retryMetrics = docs.filter((d) => "StepRetries" in d);
    const retryLogs = docs.filter((d) => String(d.message).startsWith("step retried"));
    const qualityMetrics = docs.filter((d) => "QualityCheckFailed" in d);
    return { retryMetrics, retryLogs, qualityMetrics, error };
  }

  it("a retried Silver or QualityChecks invocation logs a warning and adds StepRetries (alone and per state)", async () => {
    vi.stubEnv("DATABASE_URL", db.url);
    vi.stubEnv("POWERTOOLS_SERVICE_NAME", "weather-dataops-test");
    try {
      const transform = await import("#functions/transform.ts");
      const check = await import("#functions/check-quality.ts");

      const retried = await invoke(transform.handler, { layer: "silver", interval: INTERVAL, retryCount: 2 });
      expect(retried.retryLogs).toEqual([
        expect.objectContaining({ level: "WARN", state: "Silver", retryCount: 2, interval: INTERVAL }),
      ]);
      expect(retried.retryMetrics).toHaveLength(2);
      expect(retried.retryMetrics).toContainEqual(
        expect.objectContaining({ StepRetries: 1, state: "Silver", service: "weather-dataops-test" }),
      );
      expect(retried.retryMetrics.some((m) => !("state" in m))).toBe(true);

      const first = await invoke(transform.handler, { layer: "gold", interval: INTERVAL, retryCount: 0 });
      expect(first.retryLogs).toEqual([]);
      expect(first.retryMetrics).toEqual([]);

      const checks = await invoke(check.handler, { interval: INTERVAL, layer: "gold", retryCount: 1 });
      expect(checks.retryLogs).toEqual([expect.objectContaining({ state: "QualityChecks", retryCount: 1 })]);
      expect(checks.retryMetrics).toContainEqual(expect.objectContaining({ state: "QualityChecks" }));

      const gate = await invoke(check.handler, { interval: INTERVAL, layer: "silver", retryCount: 1 });
      expect(gate.retryLogs).toEqual([expect.objectContaining({ state: "SilverChecks", retryCount: 1 })]);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("the check handler publishes QualityCheckFailed: 0 when the checks pass, the failed count when not", async () => {
    vi.stubEnv("DATABASE_URL", db.url);
    vi.stubEnv("POWERTOOLS_SERVICE_NAME", "weather-dataops-test");
    const hour = intervalStart(INTERVAL);
    try {
      const check = await import("#functions/check-quality.ts");
      await transformTask({ pool: db.pool, log: memoryLog() }, { layer: "silver", interval: INTERVAL });
      const passing = await invoke(check.handler, { interval: INTERVAL, layer: "silver" });
      expect(passing.error).toBeUndefined();
      expect(passing.qualityMetrics).toEqual([
        expect.objectContaining({ QualityCheckFailed: 0, service: "weather-dataops-test" }),
      ]);
      expect(passing.qualityMetrics[0]).toHaveProperty("QualityCheckWarned");

      await db.pool.query(
        "delete from silver.observations where hour = $1 and site_id = (select min(site_id) from silver.observations where hour = $1)",
        [hour],
      );
      const failing = await invoke(check.handler, { interval: INTERVAL, layer: "silver" });
      expect((failing.error as Error)?.name).toBe("QualityCheckFailedError");
      expect(failing.qualityMetrics).toEqual([expect.objectContaining({ QualityCheckFailed: 1 })]);
    } finally {
      vi.unstubAllEnvs();
      // Restore the silver row for the tests that follow.
      await transformTask({ pool: db.pool, log: memoryLog() }, { layer: "silver", interval: INTERVAL });
    }
  });
});
