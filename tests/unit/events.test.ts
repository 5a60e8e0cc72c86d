import { describe, expect, it } from "vitest";
import { InvalidEventError } from "#core/domain/events.ts";
import { checkQualityTask, transformTask } from "#core/workflow/tasks.ts";

// The pool is never reached: a bad event fails before any query.
const deps = { pool: {} as never, log: { debug() {}, info() {}, warn() {}, error() {} } };

describe("task events", () => {
  it.each([
    [{ layer: "bronze", interval: "2026-11-22T13" }, "layer"],
    [{ layer: "silver" }, "interval"],
    [{ layer: "gold", interval: "tomorrow" }, "tomorrow"],
  ])("rejects %j with a named, non-retryable error", async (event, mentions) => {
    const error = await transformTask(deps, event).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).name).toBe("InvalidEventError");
    expect((error as Error).message).toContain(mentions);
    expect((error as Error).message).toContain('Send { "layer"');
  });

  it("rejects a check event without an interval", async () => {
    await expect(checkQualityTask(deps, {})).rejects.toThrow(InvalidEventError);
  });
});
