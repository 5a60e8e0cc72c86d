/**
 * Fault: a workflow step hangs. It must time out at its limit, be retried, and after the last attempt
 * go to the failure notification — with a warning per retry, and nothing left running behind it.
 *
 * The engine-level cases run on whatever createTestDatabase gives (the server in DATABASE_URL, else
 * PGlite). The SQL-cancellation case needs a Postgres server, where one session can block another on
 * a lock: it runs when DATABASE_URL is set (as .ci/run does) and never stops that server.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { PgOpsLedger } from "#core/adapters/pg-ops-ledger.ts";
import { loadConfig } from "#core/config/env.ts";
import { type Interval, intervalStart, parseInterval } from "#core/domain/interval.ts";
import { loadSites } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { createProvider } from "#core/providers/index.ts";
import { ingestInterval } from "#core/use-cases/ingest.ts";
import {
  type EngineTasks,
  localTasks,
  runEmbeddedWorkflow,
  type TaskFn,
} from "#core/workflow/embedded-engine.ts";
import { DEFAULT_TIME_LIMITS, type TimeLimits, timeLimitsFromConfig } from "#core/workflow/time-limits.ts";
import { startSimulator } from "../../simulator/server.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const INTERVAL: Interval = parseInterval("2026-11-22T13");
let db: TestDatabase;
let rawDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  rawDir = await mkdtemp(join(tmpdir(), "wdo-hung-"));
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

/** The limits a CLI user gets with WORKFLOW_SILVER_TIMEOUT_SECONDS=1 (the smallest ASL allows). */
const oneSecondSilver = timeLimitsFromConfig(loadConfig({ WORKFLOW_SILVER_TIMEOUT_SECONDS: "1" }, {}));

const tasks = () => localTasks({ pool: db.pool, log: memoryLog(), embedded: db.embedded });

/** A handler that never finishes on its own; it records each attempt's input and abort signal. */
function hanging() {
  const attempts: { retryCount: unknown; signal?: AbortSignal }[] = [];
  const fn: TaskFn = (input, ctx) => {
    attempts.push({ retryCount: (input as { retryCount?: unknown }).retryCount, signal: ctx?.signal });
    return new Promise(() => {});
  };
  return { fn, attempts };
}

async function run(t: EngineTasks, executionName: string, timeLimits: TimeLimits) {
  const log = memoryLog();
  const result = await runEmbeddedWorkflow(
    { ledger: new PgOpsLedger(db.pool, log), log, tasks: t },
    { interval: INTERVAL, executionName },
    { retryIntervalMs: 0, timeLimits },
  );
  const retryLines = log.entries.filter((e) => e.level === "warn" && e.message.startsWith("step retried"));
  return { result, retryLines, log };
}

async function ledger(executionName: string) {
  const exec = await db.pool.query(
    "select status, failed_state, error from ops.workflow_executions where execution_name = $1",
    [executionName],
  );
  const sent = await db.pool.query(
    "select subject, message from ops.notifications where execution_name = $1",
    [executionName],
  );
  return { execution: exec.rows[0], notifications: sent.rows };
}

describe("a hung step (embedded engine)", () => {
  it("times out on every attempt, is retried, and after the last one notifies and fails", async () => {
    const hung = hanging();
    const { result, retryLines } = await run({ ...tasks(), Silver: hung.fn }, "hung-silver", oneSecondSilver);

    expect(result).toMatchObject({ status: "failed", failedState: "Silver", error: "States.Timeout" });
    expect(result.cause).toMatch(/Silver did not finish within its 1 s time limit/);
    // MaxAttempts 3 on States.ALL: the first attempt and three retries, each told its retry count.
    expect(hung.attempts.map((a) => a.retryCount)).toEqual([0, 1, 2, 3]);
    expect(hung.attempts.every((a) => a.signal?.aborted)).toBe(true);
    expect(result.retriesByState).toEqual({ Silver: 3 });
    expect(retryLines.map((l) => l.attributes)).toEqual(
      [1, 2, 3].map((n) =>
        expect.objectContaining({
          state: "Silver",
          retryCount: n,
          error: "States.Timeout",
          metric: "StepRetries",
        }),
      ),
    );
    const { execution, notifications } = await ledger("hung-silver");
    expect(execution).toEqual({ status: "failed", failed_state: "Silver", error: "States.Timeout" });
    expect(notifications).toHaveLength(1);
    expect(notifications[0].message).toMatchObject({
      interval: INTERVAL,
      failedState: "Silver",
      error: "States.Timeout",
    });
  });

  it("hangs once, then succeeds: one retry line, no notification, gold filled", async () => {
    const real = tasks();
    const seen: unknown[] = [];
    let calls = 0;
    const onceHung: TaskFn = (input, ctx) => {
      calls += 1;
      seen.push((input as { retryCount?: unknown }).retryCount);
      return calls === 1 ? new Promise(() => {}) : real.Silver(input, ctx);
    };
    // Room for the real transform on a busy machine; the hung attempt costs exactly this limit.
    const limits = { ...DEFAULT_TIME_LIMITS, tasks: { ...DEFAULT_TIME_LIMITS.tasks, Silver: 5 } };
    const { result, retryLines } = await run({ ...real, Silver: onceHung }, "hung-once", limits);

    expect(result).toMatchObject({ status: "succeeded", retries: 1, retriesByState: { Silver: 1 } });
    expect(seen).toEqual([0, 1]);
    expect(retryLines).toHaveLength(1);
    expect(retryLines[0]?.attributes).toMatchObject({
      state: "Silver",
      retryCount: 1,
      error: "States.Timeout",
    });
    const { execution, notifications } = await ledger("hung-once");
    expect(execution?.status).toBe("succeeded");
    expect(notifications).toEqual([]);
    const { rows } = await db.pool.query("select count(*) as n from gold.v_site_hourly where hour = $1", [
      intervalStart(INTERVAL),
    ]);
    expect(rows[0].n).toBe(22);
  });

  it("the execution's own limit stops a step whose task limit is longer, and still notifies", async () => {
    const hung = hanging();
    const limits: TimeLimits = {
      executionSeconds: 1,
      tasks: { ...DEFAULT_TIME_LIMITS.tasks, Silver: 600 },
    };
    const { result, log, retryLines } = await run(
      { ...tasks(), Silver: hung.fn },
      "execution-timeout",
      limits,
    );

    expect(result).toMatchObject({ status: "failed", failedState: "Silver", error: "States.Timeout" });
    expect(result.cause).toMatch(/execution did not finish within its 1 s time limit/);
    // Stopped, not retried behind the engine's back; the limits were flagged as too tight up front.
    expect(hung.attempts).toHaveLength(1);
    expect(retryLines).toEqual([]);
    expect(hung.attempts[0]?.signal?.aborted).toBe(true);
    expect(log.entries.some((e) => e.level === "warn" && e.message.includes("below the worst case"))).toBe(
      true,
    );
    const { execution, notifications } = await ledger("execution-timeout");
    expect(execution).toEqual({ status: "failed", failed_state: "Silver", error: "States.Timeout" });
    expect(notifications).toEqual([
      {
        subject: "weather-dataops workflow timed out",
        message: expect.objectContaining({ failedState: "Silver", error: "States.Timeout" }),
      },
    ]);
  });
});

describe.skipIf(!process.env.DATABASE_URL)("a transform stuck on a lock (Postgres server)", () => {
  const LOCK = [0x57444f, 1]; // the silver layer's advisory lock (core/use-cases/transform.ts)

  /** Waits (bounded) until `probe` holds; a condition, not a duration, is what the test asserts. */
  async function until(what: string, probe: () => Promise<boolean>) {
    for (let i = 0; i < 200; i++) {
      if (await probe()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`still not true after 10 s: ${what}`);
  }
  // Probes use their own connection: uncancelled attempts would hold every client of the pool.
  const lockWaiters = async (c: pg.Client) =>
    (
      await c.query(
        "select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      )
    ).rows[0].n as number;
  const runningSilver = async (c: pg.Client) =>
    (
      await c.query(
        "select count(*) as n from ops.transform_runs where layer = 'silver' and status = 'running'",
      )
    ).rows[0].n as number;

  // Uncancelled attempts would hold every pooled client and hang the engine itself: fail within 60 s.
  it("each timed-out attempt has its SQL cancelled; nothing waits or runs on after the notification", async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("select pg_advisory_lock($1, $2)", LOCK);
      const { result, retryLines } = await run(tasks(), "locked-silver", oneSecondSilver);

      expect(result).toMatchObject({ status: "failed", failedState: "Silver", error: "States.Timeout" });
      expect(retryLines).toHaveLength(3);
      const { notifications } = await ledger("locked-silver");
      expect(notifications).toHaveLength(1);
      // Cancelled: no attempt still queues on the lock, and every attempt's run row says failed.
      await until("no session waits on the silver lock", async () => (await lockWaiters(holder)) === 0);
      await until("no silver run is left running", async () => (await runningSilver(holder)) === 0);
      const { rows } = await holder.query(
        "select count(*) as n from ops.transform_runs where layer = 'silver' and status = 'failed' and error ~* 'cancel'",
      );
      expect(rows[0].n).toBe(4);
    } finally {
      await holder.end();
    }
    // With the lock free again, a rerun of the hour succeeds (no zombie holds anything).
    const rerun = await runEmbeddedWorkflow(
      { ledger: new PgOpsLedger(db.pool), log: memoryLog(), tasks: tasks() },
      { interval: INTERVAL, executionName: "locked-silver" },
      { retryIntervalMs: 0, force: true },
    );
    expect(rerun.status).toBe("succeeded");
  }, 60_000);
});
