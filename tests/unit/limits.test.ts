import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "#core/config/env.ts";
import {
  DAY_MS,
  estimateSchedule,
  HOUR_MS,
  type LimitWindow,
  ledgerSeededLimiter,
  MINUTE_MS,
  openMeteoWeight,
  tierWindows,
  WeightExceedsLimitError,
  WeightedLimiter,
  type WeightedUsage,
} from "#core/providers/limits.ts";

const FREE = { perMinute: 600, perHour: 5_000, perDay: 10_000 };

describe("openMeteoWeight", () => {
  it.each([
    // Open-Meteo's pricing page: 15 variables over 2 weeks = 1.5 calls; over 4 weeks = 3.0 (fractional).
    [{ variables: 15, days: 14, locations: 1 }, 1.5],
    [{ variables: 15, days: 28, locations: 1 }, 3],
    // At most 10 variables and 2 weeks is one call; the minimum of 1 applies before the locations.
    [{ variables: 5, days: 7, locations: 1 }, 1],
    [{ variables: 1, days: 1, locations: 50 }, 50],
    // Our live request: 10 current variables, one day, a batch of 50.
    [{ variables: 10, days: 1, locations: 50 }, 50],
    // Fractional, never rounded.
    [{ variables: 11, days: 1, locations: 1 }, 1.1],
    [{ variables: 10, days: 21, locations: 2 }, 3],
    // A year of archive for 10 variables at one location: 365 / 14.
    [{ variables: 10, days: 365, locations: 1 }, 365 / 14],
  ])("%j weighs %d", (args, expected) => {
    expect(openMeteoWeight(args)).toBeCloseTo(expected, 12);
  });

  it("rejects a negative or missing count", () => {
    expect(() => openMeteoWeight({ variables: -1, days: 1, locations: 1 })).toThrow(/variables/);
    expect(() => openMeteoWeight({ variables: 10, days: Number.NaN, locations: 1 })).toThrow(/days/);
  });
});

describe("the configuration", () => {
  it("defaults to the free tiers and maps a commercial tier by configuration alone", () => {
    const free = loadConfig({}, {});
    expect([
      free.OPEN_METEO_CALLS_PER_MINUTE,
      free.OPEN_METEO_CALLS_PER_HOUR,
      free.OPEN_METEO_CALLS_PER_DAY,
    ]).toEqual([600, 5_000, 10_000]);
    const paid = loadConfig({}, { OPEN_METEO_CALLS_PER_DAY: "1000000" });
    expect(paid.OPEN_METEO_CALLS_PER_DAY).toBe(1_000_000);
    expect(tierWindows(FREE, "open-meteo").map((w) => [w.name, w.durationMs, w.capacity, w.setting])).toEqual(
      [
        ["minute", MINUTE_MS, 600, "OPEN_METEO_CALLS_PER_MINUTE"],
        ["hour", HOUR_MS, 5_000, "OPEN_METEO_CALLS_PER_HOUR"],
        ["day", DAY_MS, 10_000, "OPEN_METEO_CALLS_PER_DAY"],
      ],
    );
  });

  it("names a retired rate variable and what replaces it instead of ignoring it", () => {
    expect(() => loadConfig({}, { OPEN_METEO_RATE_PER_MINUTE: "600" })).toThrow(ConfigError);
    expect(() => loadConfig({}, { OPEN_METEO_RATE_PER_MINUTE: "600" })).toThrow(
      /OPEN_METEO_CALLS_PER_MINUTE/,
    );
  });
});

/** The most weight granted in any span [t, t + W): spans starting at a grant are the only ones to check. */
function busiestSpan(grants: { at: number; weight: number }[], durationMs: number): number {
  let most = 0;
  for (const g of grants) {
    const inside = grants.filter((o) => o.at >= g.at && o.at < g.at + durationMs);
    most = Math.max(
      most,
      inside.reduce((n, o) => n + o.weight, 0),
    );
  }
  return most;
}

describe("WeightedLimiter", () => {
  // Three windows scaled down from minute / hour / day so a test takes about two seconds of real time.
  const windows: LimitWindow[] = [
    { name: "minute", durationMs: 100, capacity: 4 },
    { name: "hour", durationMs: 500, capacity: 10 },
    { name: "day", durationMs: 1_500, capacity: 18 },
  ];

  it("never lets any window hold more than its capacity, measured from the grants' real instants", async () => {
    // Prepare: 30 weighted calls of mixed weights (fractional too), far more than the day holds.
    const limiter = new WeightedLimiter(windows);
    const weights = Array.from({ length: 20 }, (_, i) => [1, 2, 0.5, 3][i % 4] as number);
    const total = weights.reduce((a, b) => a + b, 0);
    // Act: all asked at once; each grant's instant is the wall clock when it was given.
    const grants = await Promise.all(
      weights.map(async (weight) => ({ at: await limiter.acquire(weight), weight })),
    );
    // Assess: every call went through, and no span of any window's length held more than its capacity.
    expect(grants.length).toBe(weights.length);
    expect(total).toBeGreaterThan(18);
    for (const w of windows) {
      expect(busiestSpan(grants, w.durationMs), `busiest ${w.name} span`).toBeLessThanOrEqual(
        w.capacity + 1e-9,
      );
    }
    // And the windows were used, not just idle: some span of the day window is (nearly) full.
    expect(busiestSpan(grants, 1_500)).toBeGreaterThan(18 - 3);
  });

  it("serves waiters in arrival order: a heavy request is not overtaken by lighter ones", async () => {
    const limiter = new WeightedLimiter([{ name: "w", durationMs: 200, capacity: 5 }]);
    const order: number[] = [];
    await Promise.all([4, 3, 1].map((weight) => limiter.acquire(weight).then(() => order.push(weight))));
    expect(order).toEqual([4, 3, 1]);
  });

  it("fails a weight above a window's capacity at once, counting nothing", async () => {
    const limiter = new WeightedLimiter(
      tierWindows({ perMinute: 60, perHour: 3_600, perDay: 32_000 }, "openweather"),
    );
    const error = await limiter.acquire(61).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeightExceedsLimitError);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/per-minute limit of 60 \(OPENWEATHER_CALLS_PER_MINUTE\)/);
    expect(limiter.usage()).toEqual({ minute: 0, hour: 0, day: 0 });
    // A weight that fits later is never rejected: exactly the capacity goes through.
    await expect(limiter.acquire(60)).resolves.toBeTypeOf("number");
  });

  it("stops waiting when the signal aborts, counts nothing, and lets the next waiter go", async () => {
    // Prepare: the window is full for a minute.
    const limiter = new WeightedLimiter([{ name: "minute", durationMs: MINUTE_MS, capacity: 5 }]);
    await limiter.acquire(5);
    const stop = new AbortController();
    const waiting = limiter.acquire(2, stop.signal);
    const behind = limiter.acquire(0);
    // Act
    stop.abort(new Error("run stopped"));
    // Assess
    await expect(waiting).rejects.toThrow("run stopped");
    await expect(behind).resolves.toBeTypeOf("number");
    expect(limiter.pending).toBe(0);
    expect(limiter.usage()).toEqual({ minute: 5 });
    await expect(limiter.acquire(1, AbortSignal.abort(new Error("already")))).rejects.toThrow("already");
  });

  it("starts from seeded usage: a seed inside the window delays a grant until it leaves", async () => {
    // Prepare: 8 of 10 were used 100 ms ago in a 300 ms window; an entry older than the window is ignored.
    const limiter = new WeightedLimiter([{ name: "w", durationMs: 300, capacity: 10 }]);
    const seededAt = Date.now() - 100;
    limiter.seed([
      { at: new Date(seededAt), weightedCalls: 8 },
      { at: new Date(seededAt - 1_000), weightedCalls: 100 },
    ]);
    expect(limiter.usage()).toEqual({ w: 8 });
    // Act
    const grantedAt = await limiter.acquire(3);
    // Assess: only once the seeded 8 had left the window was there room for 3.
    expect(grantedAt).toBeGreaterThanOrEqual(seededAt + 300);
  });

  it("seeds a new run from the ledger's last day of the same source", async () => {
    // Prepare: an in-memory ledger; 590 calls made 30 s ago by another process.
    const now = Date.now();
    const asked: { source: string; since: Date }[] = [];
    const ledger = {
      async weightedCallsSince(source: "open-meteo" | "openweather" | "simulator", since: Date) {
        asked.push({ source, since });
        const usage: WeightedUsage[] = [{ at: new Date(now - 30_000), weightedCalls: 590 }];
        return usage;
      },
    };
    // Act
    const limiter = await ledgerSeededLimiter("open-meteo", FREE, ledger, { now: () => now });
    // Assess
    expect(asked).toEqual([{ source: "open-meteo", since: new Date(now - DAY_MS) }]);
    expect(limiter.usage()).toEqual({ minute: 590, hour: 590, day: 590 });
    const stop = new AbortController();
    const fifty = limiter.acquire(50, stop.signal);
    await new Promise((r) => setTimeout(r, 20));
    expect(limiter.pending).toBe(1);
    stop.abort(new Error("done"));
    await expect(fifty).rejects.toThrow("done");
  });
});

describe("estimateSchedule", () => {
  it("says a small backfill fits today and how long the minute window makes it take", () => {
    // 100 sites × a year of archive (10 variables, 14-day requests): 100 × 365/14 ≈ 2,607 weighted calls.
    const total = 100 * openMeteoWeight({ variables: 10, days: 365, locations: 1 });
    expect(estimateSchedule(FREE, { perMinute: 0, perHour: 0, perDay: 0 }, total)).toEqual({
      weightedCalls: total,
      fitsToday: true,
      remainingToday: 10_000,
      // 600 at once, then 600 a minute: 2,007 more need 4 more minutes.
      estimatedDurationMs: 4 * MINUTE_MS,
      windowThatBinds: "minute",
    });
  });

  it("says a large one does not fit what is left today, and that the day window binds", () => {
    const e = estimateSchedule(FREE, { perMinute: 0, perHour: 1_000, perDay: 3_000 }, 20_000);
    expect(e).toEqual({
      weightedCalls: 20_000,
      fitsToday: false,
      remainingToday: 7_000,
      // 7,000 today, then 10,000 a day: 13,000 more need two more days.
      estimatedDurationMs: 2 * DAY_MS,
      windowThatBinds: "day",
    });
  });

  it("lets the hour window bind between the two", () => {
    const e = estimateSchedule(FREE, { perMinute: 0, perHour: 0, perDay: 0 }, 9_000);
    expect([e.fitsToday, e.windowThatBinds, e.estimatedDurationMs]).toEqual([true, "hour", HOUR_MS]);
  });

  it("is instant for work that fits every window now", () => {
    const e = estimateSchedule(FREE, { perMinute: 100, perHour: 100, perDay: 100 }, 500);
    expect([e.fitsToday, e.windowThatBinds, e.estimatedDurationMs]).toEqual([true, null, 0]);
  });
});
