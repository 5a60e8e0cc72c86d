/** The backfill plan: oldest first, replay before fetch, catch-up policies, the current hour first. */
import { describe, expect, it } from "vitest";
import { type Interval, parseInterval } from "#core/domain/interval.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { backfill, type CatchUp } from "#core/use-cases/backfill.ts";
import type { IngestResult } from "#core/use-cases/ingest.ts";

const I = (s: string) => parseInterval(s);
const result = (observationsLoaded: number) => ({ observationsLoaded }) as IngestResult;

function harness(opts: { raw: string[]; supportsHistory: boolean; now: string }) {
  const calls: string[] = [];
  const raw = new Set(opts.raw);
  const deps = {
    log: memoryLog(),
    supportsHistory: opts.supportsHistory,
    clock: () => new Date(`${opts.now}:30:00Z`),
    hasRaw: async (i: Interval) => raw.has(i),
    replay: async (i: Interval) => {
      calls.push(`replay ${i}`);
      return [result(22)];
    },
    ingest: async (i: Interval) => {
      calls.push(`fetch ${i}`);
      raw.add(i);
      return result(22);
    },
    runWorkflow: async (i: Interval) => {
      calls.push(`workflow ${i}`);
      return { status: "succeeded" };
    },
  };
  return { deps, calls };
}

const run = (h: ReturnType<typeof harness>, catchUp: CatchUp, from = "2026-11-22T10", to = "2026-11-22T12") =>
  backfill(h.deps, { from: I(from), to: I(to), catchUp });

describe("backfill", () => {
  it("serves the current hour first, then replays raw and fetches gaps oldest first", async () => {
    const h = harness({ raw: ["2026-11-22T11"], supportsHistory: true, now: "2026-11-22T15" });
    const report = await run(h, "all");
    expect(h.calls).toEqual([
      "fetch 2026-11-22T15",
      "workflow 2026-11-22T15",
      "fetch 2026-11-22T10",
      "workflow 2026-11-22T10",
      "replay 2026-11-22T11",
      "workflow 2026-11-22T11",
      "fetch 2026-11-22T12",
      "workflow 2026-11-22T12",
    ]);
    expect(report.steps[0]).toMatchObject({ interval: "2026-11-22T15", currentHour: true });
    expect(report.failed).toBe(false);
  });

  it("with catch-up 'latest' fetches only the most recent gap and reports the others", async () => {
    const h = harness({ raw: [], supportsHistory: true, now: "2026-11-23T00" });
    const report = await run(h, "latest");
    expect(h.calls.filter((c) => c.startsWith("fetch"))).toEqual([
      "fetch 2026-11-23T00",
      "fetch 2026-11-22T12",
    ]);
    expect(report.steps.map((s) => [s.interval, s.action])).toEqual([
      ["2026-11-23T00", "fetched"],
      ["2026-11-22T10", "skipped"],
      ["2026-11-22T11", "skipped"],
      ["2026-11-22T12", "fetched"],
    ]);
  });

  it("with catch-up 'skip' only replays", async () => {
    const h = harness({ raw: ["2026-11-22T10"], supportsHistory: true, now: "2026-11-23T00" });
    await run(h, "skip", "2026-11-22T10", "2026-11-22T11");
    expect(h.calls).toEqual([
      "fetch 2026-11-23T00",
      "workflow 2026-11-23T00",
      "replay 2026-11-22T10",
      "workflow 2026-11-22T10",
    ]);
  });

  it("reports a gap it cannot fetch from a live API (no history) and fails the run", async () => {
    const h = harness({ raw: [], supportsHistory: false, now: "2026-11-22T12" });
    const report = await run(h, "all", "2026-11-22T10", "2026-11-22T11");
    const step = report.steps.find((s) => s.interval === "2026-11-22T10");
    expect(step).toMatchObject({ action: "missing" });
    expect(step?.reason).toContain("current weather only");
    expect(report.failed).toBe(true);
  });
});
