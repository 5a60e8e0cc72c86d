/**
 * Gap healing against an in-memory warehouse: the window, exactly the missing site-hours refilled,
 * the fewest weighted requests, one bulk transform over what changed, and a report (and failure) for
 * whatever survives.
 */
import { describe, expect, it } from "vitest";
import { type Interval, intervalRange, parseInterval } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { coverageOf } from "#core/use-cases/coverage.ts";
import {
  daysSpanned,
  type HealFetchResult,
  HealInputError,
  heal,
  healWindow,
  planHealRequests,
} from "#core/use-cases/heal.ts";

const I = (s: string) => parseInterval(s);
const site = (id: string): Site => ({ id, name: id, lat: 0, lon: 0, timezone: "UTC", country: "NO" });
const SITES = ["a", "b", "c"].map(site);
// 2026-11-23T12:30Z: the last complete hour is 11, so a 1-day window is 2026-11-22T12 … 2026-11-23T11.
const NOW = new Date("2026-11-23T12:30:00Z");

/**
 * Bronze as site → hours present. `fetchHistory` adds every hour of the requested range for the
 * requested sites except the `unreachable` ones (as the provider's history would); `throwFor` makes a
 * request including that site reject.
 */
function warehouse(opts: {
  days: number;
  missing: Record<string, string[]>;
  unreachable?: string[];
  throwFor?: string;
  transformFails?: boolean;
}) {
  const window = healWindow(opts.days, NOW);
  // Prepare: every site has every hour of the window (and the hours around it), except `missing`.
  const all = intervalRange(parseInterval("2026-08-01T00"), parseInterval("2026-11-23T12"));
  const present = new Map<string, Set<string>>(
    SITES.map((s) => [s.id, new Set(all.filter((i) => !opts.missing[s.id]?.includes(i)))]),
  );
  const fetches: Array<{ siteIds: string[]; from: Interval; to: Interval }> = [];
  const transforms: Array<{ from: Interval; to: Interval }> = [];
  const log = memoryLog();
  const deps = {
    log,
    coverage: async (from: Interval, to: Interval, siteIds: string[]) =>
      coverageOf({ from, to, siteIds, present }),
    fetchHistory: async (sites: Site[], from: Interval, to: Interval): Promise<HealFetchResult> => {
      const siteIds = sites.map((s) => s.id);
      fetches.push({ siteIds, from, to });
      if (opts.throwFor && siteIds.includes(opts.throwFor)) throw new Error("HTTP 503 from the archive API");
      let loaded = 0;
      for (const id of siteIds) {
        if (opts.unreachable?.includes(id)) continue;
        for (const i of intervalRange(from, to)) present.get(id)?.add(i);
        loaded += intervalRange(from, to).length;
      }
      return {
        runId: `history-${fetches.length}`,
        status: siteIds.some((id) => opts.unreachable?.includes(id)) ? "failed" : "succeeded",
        observationsLoaded: loaded,
        sites: siteIds.map((id) =>
          opts.unreachable?.includes(id)
            ? { siteId: id, status: "failed", reason: "HTTP 400: no data for these coordinates" }
            : { siteId: id, status: "ok", reason: null },
        ),
      };
    },
    transformRange: async (from: Interval, to: Interval) => {
      transforms.push({ from, to });
      if (opts.transformFails) throw new Error("SilverChecks failed: silver_temperature_range");
      return { status: "succeeded" as const, runId: 42 };
    },
    clock: () => NOW,
  };
  const snapshot = () => new Set([...present].flatMap(([id, hours]) => [...hours].map((h) => `${id}|${h}`)));
  return { deps, window, present, fetches, transforms, log, snapshot };
}

describe("heal", () => {
  it("the window is the last N days of complete hours, ending before the current hour", () => {
    expect(healWindow(1, NOW)).toEqual({ from: I("2026-11-22T12"), to: I("2026-11-23T11") });
    expect(healWindow(7, NOW)).toEqual({ from: I("2026-11-16T12"), to: I("2026-11-23T11") });
    expect(intervalRange(healWindow(3, NOW).from, healWindow(3, NOW).to)).toHaveLength(72);
  });

  it("with no gap: no request, no transform, nothing failed", async () => {
    const w = warehouse({ days: 7, missing: {} });
    const report = await heal(w.deps, { days: 7, sites: SITES });
    expect(report).toMatchObject({
      window: { from: I("2026-11-16T12"), to: I("2026-11-23T11"), days: 7 },
      sitesChecked: 3,
      siteHoursMissingBefore: 0,
      siteHoursFilled: 0,
      gapsRemaining: 0,
      requests: [],
      perSite: [],
      runs: [],
      transform: null,
      failed: false,
    });
    expect(w.fetches).toEqual([]);
    expect(w.transforms).toEqual([]);
  });

  it("refills exactly the missing site-hours, in one request, then one transform over that range", async () => {
    // Prepare: a's hour lost to an outage, b's two hours a day later; c complete. Gaps outside the
    // window (older, and the current hour) are not heal's.
    const w = warehouse({
      days: 7,
      missing: {
        a: ["2026-11-20T05", "2026-11-10T00", "2026-11-23T12"],
        b: ["2026-11-21T07", "2026-11-21T08"],
      },
    });
    const before = w.snapshot();

    // Act
    const report = await heal(w.deps, { days: 7, sites: SITES });

    // Assess: what appeared is exactly what was missing in the window.
    const added = [...w.snapshot()].filter((k) => !before.has(k)).sort();
    expect(added).toEqual(["a|2026-11-20T05", "b|2026-11-21T07", "b|2026-11-21T08"]);
    expect(w.fetches).toEqual([{ siteIds: ["a", "b"], from: I("2026-11-20T05"), to: I("2026-11-21T08") }]);
    expect(w.transforms).toEqual([{ from: I("2026-11-20T05"), to: I("2026-11-21T08") }]);
    expect(report).toMatchObject({
      siteHoursMissingBefore: 3,
      siteHoursFilled: 3,
      gapsRemaining: 0,
      failed: false,
      perSite: [
        { siteId: "a", missingBefore: 1, filled: 1, remaining: [] },
        { siteId: "b", missingBefore: 2, filled: 2, remaining: [] },
      ],
      runs: [
        { kind: "history", runId: "history-1", status: "succeeded" },
        { kind: "transform", runId: "42", status: "succeeded" },
      ],
      transform: { from: I("2026-11-20T05"), to: I("2026-11-21T08"), status: "succeeded", runId: "42" },
    });
    expect(report.requests).toEqual([
      expect.objectContaining({
        siteIds: ["a", "b"],
        weight: 2,
        status: "succeeded",
        observationsLoaded: 56,
      }),
    ]);
    expect(w.log.entries.map((e) => e.message)).toEqual(["heal plan", "heal finished"]);
  });

  it("one hour of one site: a request for exactly that site and hour", async () => {
    const w = warehouse({ days: 1, missing: { c: ["2026-11-23T02"] } });
    const report = await heal(w.deps, { days: 1, sites: SITES });
    expect(w.fetches).toEqual([{ siteIds: ["c"], from: I("2026-11-23T02"), to: I("2026-11-23T02") }]);
    expect(report).toMatchObject({ siteHoursMissingBefore: 1, siteHoursFilled: 1, gapsRemaining: 0 });
  });

  it("gaps that survive are reported per site with the reason, and fail the heal; the rest still heals", async () => {
    const w = warehouse({
      days: 2,
      missing: { a: ["2026-11-22T20"], b: ["2026-11-22T20", "2026-11-22T21"] },
      unreachable: ["b"],
    });
    const report = await heal(w.deps, { days: 2, sites: SITES });
    expect(report).toMatchObject({
      siteHoursMissingBefore: 3,
      siteHoursFilled: 1,
      gapsRemaining: 2,
      failed: true,
      perSite: [
        { siteId: "a", missingBefore: 1, filled: 1, remaining: [] },
        { siteId: "b", missingBefore: 2, filled: 0, remaining: [I("2026-11-22T20"), I("2026-11-22T21")] },
      ],
    });
    expect(report.requests[0]).toMatchObject({
      status: "failed",
      reason: "HTTP 400: no data for these coordinates",
    });
    // a's rows changed, so silver and gold are rebuilt over the range even though b failed.
    expect(w.transforms).toHaveLength(1);
  });

  it("a request that throws is recorded and the other requests still run", async () => {
    // Prepare: a's gap and c's gap are 60 days apart in a 92-day window, so they are two requests.
    const w = warehouse({
      days: 92,
      missing: { a: ["2026-09-01T00"], c: ["2026-11-01T00"] },
      throwFor: "a",
    });
    const report = await heal(w.deps, { days: 92, sites: SITES });
    expect(w.fetches.map((f) => f.siteIds)).toEqual([["a"], ["c"]]);
    expect(report.requests.map((r) => [r.status, r.reason])).toEqual([
      ["failed", "Error: HTTP 503 from the archive API"],
      ["succeeded", undefined],
    ]);
    expect(report).toMatchObject({ siteHoursFilled: 1, gapsRemaining: 1, failed: true });
    // Only what loaded is transformed.
    expect(w.transforms).toEqual([{ from: I("2026-11-01T00"), to: I("2026-11-01T00") }]);
  });

  it("a failed transform fails the heal even when bronze is complete", async () => {
    const w = warehouse({ days: 1, missing: { a: ["2026-11-23T03"] }, transformFails: true });
    const report = await heal(w.deps, { days: 1, sites: SITES });
    expect(report).toMatchObject({
      gapsRemaining: 0,
      failed: true,
      transform: { status: "failed", runId: null, error: expect.stringContaining("SilverChecks failed") },
    });
  });

  it.each([0, 93, 1.5, Number.NaN])("rejects days = %s before reading anything", async (days) => {
    const w = warehouse({ days: 1, missing: {} });
    await expect(heal(w.deps, { days, sites: SITES })).rejects.toThrow(HealInputError);
  });
});

describe("planHealRequests (Open-Meteo weights: max(days/14, 1) × locations)", () => {
  const gaps = (g: Record<string, string[]>) => new Map(Object.entries(g).map(([k, v]) => [k, v.map(I)]));

  it("counts calendar days the way a start_date/end_date request spans them", () => {
    expect(daysSpanned(I("2026-11-20T23"), I("2026-11-21T00"))).toBe(2);
    expect(daysSpanned(I("2026-11-20T00"), I("2026-11-20T23"))).toBe(1);
  });

  it("sites whose gaps lie within 14 days share one request (same weight, fewer requests)", () => {
    const plan = planHealRequests(
      gaps({ a: ["2026-11-01T00"], b: ["2026-11-10T05", "2026-11-12T00"], c: ["2026-11-14T23"] }),
    );
    expect(plan).toEqual([
      { from: I("2026-11-01T00"), to: I("2026-11-14T23"), siteIds: ["a", "b", "c"], weight: 3 },
    ]);
  });

  it("gaps weeks apart stay separate requests, also for one site", () => {
    const plan = planHealRequests(gaps({ a: ["2026-09-01T00", "2026-11-01T00"], b: ["2026-11-02T00"] }));
    expect(plan).toEqual([
      { from: I("2026-09-01T00"), to: I("2026-09-01T00"), siteIds: ["a"], weight: 1 },
      { from: I("2026-11-01T00"), to: I("2026-11-02T00"), siteIds: ["a", "b"], weight: 2 },
    ]);
  });

  it("never weighs more than one request per missing site-hour", () => {
    const g = gaps({
      a: ["2026-08-25T00", "2026-09-20T10", "2026-09-21T00", "2026-11-20T00"],
      b: ["2026-09-01T00", "2026-10-15T00"],
      c: ["2026-11-19T00"],
    });
    const naive = [...g.values()].reduce((n, hours) => n + hours.length, 0);
    const plan = planHealRequests(g);
    expect(plan.reduce((n, r) => n + r.weight, 0)).toBeLessThanOrEqual(naive);
    // Every missing site-hour is inside a request for its site.
    for (const [id, hours] of g)
      for (const h of hours)
        expect(
          plan.some((r) => r.siteIds.includes(id) && r.from <= h && h <= r.to),
          `${id} ${h}`,
        ).toBe(true);
  });

  it("a whole range missing for many sites is ONE request, whatever the fractional weights (a backfill's year)", () => {
    // Prepare: 100 sites missing every hour of a year; 13 variables (weight factor 1.3).
    const year = intervalRange(I("2025-11-24T00"), I("2026-11-23T23"));
    const g = new Map(Array.from({ length: 100 }, (_, i) => [`site-${i}`, year]));
    // Act
    const plan = planHealRequests(g, (days, locations) => 1.3 * Math.max(days / 14, 1) * locations);
    // Assess: rounding (365/14 × 1.3 × k) must not split the sites into groups.
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ from: "2025-11-24T00", to: "2026-11-23T23" });
    expect(plan[0]?.siteIds).toHaveLength(100);
  });
});
