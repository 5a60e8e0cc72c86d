/**
 * The backfill plan, coverage-driven: oldest first, replay before fetch, only missing sites fetched,
 * catch-up policies, the current hour first, and a report (and failure) for whatever stays missing.
 */
import { describe, expect, it } from "vitest";
import { type Interval, intervalRange, parseInterval } from "#core/domain/interval.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { backfill, type CatchUp } from "#core/use-cases/backfill.ts";
import type { IngestResult } from "#core/use-cases/ingest.ts";

const I = (s: string) => parseInterval(s);
const SITES = ["a", "b", "c"];

/**
 * An in-memory warehouse: `present` is what bronze holds per hour, `raw` what landed raw objects would
 * restore, `unreachable` the sites a fetch cannot get (the API fails for them).
 */
function harness(opts: {
  present?: Record<string, string[]>;
  raw?: Record<string, string[]>;
  unreachable?: string[];
  supportsHistory: boolean;
  now: string;
}) {
  const calls: string[] = [];
  const present = new Map<string, Set<string>>(
    Object.entries(opts.present ?? {}).map(([i, s]) => [i, new Set(s)]),
  );
  const add = (i: Interval, ids: string[]) => {
    const set = present.get(i) ?? new Set<string>();
    for (const id of ids) set.add(id);
    present.set(i, set);
  };
  const deps = {
    log: memoryLog(),
    supportsHistory: opts.supportsHistory,
    clock: () => new Date(`${opts.now}:30:00Z`),
    missing: async (from: Interval, to: Interval) => {
      const out = new Map<Interval, string[]>();
      for (const i of intervalRange(from, to)) {
        const lacking = SITES.filter((s) => !present.get(i)?.has(s));
        if (lacking.length > 0) out.set(i, lacking);
      }
      return out;
    },
    hasRaw: async (i: Interval) => i in (opts.raw ?? {}),
    replay: async (i: Interval) => {
      calls.push(`replay ${i}`);
      const ids = opts.raw?.[i] ?? [];
      add(i, ids);
      return [{ observationsLoaded: ids.length } as IngestResult];
    },
    ingest: async (i: Interval, siteIds: string[]) => {
      calls.push(`fetch ${i} ${siteIds.join(",")}`);
      const ok = siteIds.filter((s) => !opts.unreachable?.includes(s));
      add(i, ok);
      return {
        observationsLoaded: ok.length,
        sites: siteIds.map((s) =>
          ok.includes(s)
            ? { siteId: s, status: "ok", reason: null, rawObjectKey: "k" }
            : { siteId: s, status: "failed", reason: "HTTP 500 after 4 attempts", rawObjectKey: "k" },
        ),
      } as IngestResult;
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
  it("serves the current hour first, replays raw, then fetches only the missing sites, oldest first", async () => {
    // Prepare: 10 is complete, 11 has raw objects for a and b only, 12 has c.
    const h = harness({
      present: { "2026-11-22T10": SITES, "2026-11-22T12": ["c"] },
      raw: { "2026-11-22T11": ["a", "b"] },
      supportsHistory: true,
      now: "2026-11-22T15",
    });
    // Act
    const report = await run(h, "all");
    // Assess
    expect(h.calls).toEqual([
      "fetch 2026-11-22T15 a,b,c",
      "workflow 2026-11-22T15",
      "replay 2026-11-22T11",
      "fetch 2026-11-22T11 c",
      "workflow 2026-11-22T11",
      "fetch 2026-11-22T12 a,b",
      "workflow 2026-11-22T12",
    ]);
    expect(report.steps[0]).toMatchObject({ interval: "2026-11-22T15", currentHour: true });
    expect(report.steps[1]).toMatchObject({ missingBefore: 3, replayed: 2, fetched: 1, stillMissing: [] });
    expect(report).toMatchObject({ siteHoursStillMissing: 0, failed: false, hoursChecked: 3 });
  });

  it("fails and names what is still missing when a fetch cannot fill it (e.g. the API answers 500)", async () => {
    const h = harness({ unreachable: ["b"], supportsHistory: true, now: "2026-11-22T11" });
    const report = await run(h, "all", "2026-11-22T11", "2026-11-22T11");
    expect(report.failed).toBe(true);
    expect(report.steps).toEqual([
      expect.objectContaining({
        interval: "2026-11-22T11",
        missingBefore: 3,
        fetched: 2,
        stillMissing: ["b"],
        reason: "fetch did not fill it: HTTP 500 after 4 attempts",
        workflow: "succeeded",
      }),
    ]);
    expect(report).toMatchObject({ siteHoursMissingBefore: 3, siteHoursFilled: 2, siteHoursStillMissing: 1 });
  });

  it("with catch-up 'latest' fetches only the most recent gap and reports the others as missing", async () => {
    const h = harness({ supportsHistory: true, now: "2026-11-23T00" });
    h.deps.clock = () => new Date("2026-11-22T12:30:00Z");
    const report = await run(h, "latest");
    expect(h.calls.filter((c) => c.startsWith("fetch"))).toEqual(["fetch 2026-11-22T12 a,b,c"]);
    expect(report.steps.find((s) => s.interval === "2026-11-22T10")?.reason).toMatch(
      /catch-up policy "latest"/,
    );
    expect(report.failed).toBe(true);
  });

  it("with catch-up 'skip' only replays; a live source cannot fetch past hours; neither claims success", async () => {
    const skip = harness({ raw: { "2026-11-22T10": SITES }, supportsHistory: true, now: "2026-11-23T05" });
    const skipped = await run(skip, "skip");
    expect(skip.calls.filter((c) => c.startsWith("fetch 2026-11-22"))).toEqual([]);
    expect(skipped.siteHoursStillMissing).toBe(6);
    expect(skipped.failed).toBe(true);

    const live = harness({ supportsHistory: false, now: "2026-11-23T05" });
    const report = await run(live, "all");
    expect(live.calls).toEqual(["fetch 2026-11-23T05 a,b,c", "workflow 2026-11-23T05"]);
    expect(report.steps.find((s) => s.interval === "2026-11-22T10")?.reason).toMatch(
      /current conditions only/,
    );
    expect(report.siteHoursStillMissing).toBe(9);
    expect(report.failed).toBe(true);
  });

  it("does nothing, and succeeds, when the range is complete", async () => {
    const full = Object.fromEntries(
      ["2026-11-22T10", "2026-11-22T11", "2026-11-22T12"].map((i) => [i, SITES]),
    );
    const h = harness({ present: full, supportsHistory: true, now: "2026-11-22T12" });
    const report = await run(h, "all");
    expect(h.calls).toEqual([]);
    expect(report).toMatchObject({ steps: [], failed: false, siteHoursMissingBefore: 0 });
  });
});
