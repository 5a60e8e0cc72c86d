/**
 * The transform use case and the embedded workflow engine when the ops ledger fails under them, with
 * in-memory fakes of the ledger and the warehouse (tests/helpers/fakes.ts): the caller sees the
 * error that stopped the work, never the bookkeeping's, and a lease being renewed is released.
 */
import { describe, expect, it } from "vitest";
import { DatabaseUnavailableError } from "#core/db/errors.ts";
import { parseInterval } from "#core/domain/interval.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { runTransform, transformRange } from "#core/use-cases/transform.ts";
import { type EngineTasks, runEmbeddedWorkflow } from "#core/workflow/embedded-engine.ts";
import { memoryOpsLedger, memoryWarehouse } from "../helpers/fakes.ts";

const INTERVAL = parseInterval("2026-11-22T13");

function unavailable(): DatabaseUnavailableError {
  return new DatabaseUnavailableError(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
}

describe("a transform whose failure cannot be recorded", () => {
  it("rethrows the transform's own error, logs both, and stops renewing the range run's lease", async () => {
    // Prepare: the transaction fails, and so does the write that would mark the run failed.
    const ledger = memoryOpsLedger();
    const warehouse = memoryWarehouse(ledger);
    const transformError = new Error("deadlock detected");
    warehouse.failTransform = () => transformError;
    ledger.failWhen = (method) => (method === "failTransformRun" ? unavailable() : undefined);
    const log = memoryLog();

    // Act: a range run, the one mode whose lease a heartbeat renews.
    const outcome = await transformRange(
      { ledger, warehouse, log },
      { from: "2026-11-22T10", to: "2026-11-22T13", trigger: "backfill" },
    ).catch((e: unknown) => e);

    // Assess
    expect(outcome).toBe(transformError);
    expect(ledger.leasesHeld.size).toBe(0);
    const [run] = [...ledger.transformRuns.values()];
    expect(run).toMatchObject({ layer: "silver", mode: "range", trigger: "backfill", status: "running" });
    expect(ledger.transformRuns.size).toBe(1); // gold never started
    const errors = log.entries.filter((e) => e.level === "error").map((e) => e.message);
    expect(errors).toEqual(["transform failed", "could not record the failed transform run"]);
  });

  it("records the failure when the ledger can: the run reads failed with the error's name and message", async () => {
    // Prepare
    const ledger = memoryOpsLedger();
    const warehouse = memoryWarehouse(ledger);
    warehouse.failTransform = () => new RangeError("scope too large");

    // Act
    const outcome = await runTransform({ ledger, warehouse }, { layer: "gold", interval: INTERVAL }).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(outcome).toBeInstanceOf(RangeError);
    expect([...ledger.transformRuns.values()]).toMatchObject([
      { layer: "gold", mode: "incremental", status: "failed", error: "RangeError: scope too large" },
    ]);
  });
});

describe("a workflow whose failure notification cannot be recorded", () => {
  it("still finishes the execution as failed in the failing state, and releases its lease", async () => {
    // Prepare: Silver fails every attempt; every notification write fails.
    const ledger = memoryOpsLedger();
    ledger.failWhen = (method) => (method === "recordNotification" ? unavailable() : undefined);
    let notifyAttempts = 0;
    const real = ledger.recordNotification.bind(ledger);
    ledger.recordNotification = (n) => {
      notifyAttempts += 1;
      return real(n);
    };
    const fail = async () => {
      throw new Error("silver exploded");
    };
    const tasks: EngineTasks = { Silver: fail, SilverChecks: fail, Gold: fail, QualityChecks: fail };
    const log = memoryLog();

    // Act
    const result = await runEmbeddedWorkflow(
      { ledger, log, tasks },
      { interval: INTERVAL, executionName: "notify-fails" },
      { retryIntervalMs: 0 },
    );

    // Assess: the outcome names the step that failed, not the notification's write.
    expect(result).toMatchObject({
      status: "failed",
      failedState: "Silver",
      error: "Error",
      cause: "silver exploded",
    });
    expect(ledger.executions.get("notify-fails")).toMatchObject({
      status: "failed",
      failedState: "Silver",
      error: "Error",
    });
    expect(ledger.notifications).toEqual([]);
    expect(notifyAttempts).toBe(4); // NotifyFailure's Retry: 3 more attempts
    expect(ledger.leasesHeld.size).toBe(0);
    expect(log.entries.some((e) => e.message === "workflow failed; notification recorded")).toBe(false);
  });
});
