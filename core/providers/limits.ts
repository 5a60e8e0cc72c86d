/**
 * Provider limits counted the way the providers count them: weighted calls against every window of the
 * configured tier (minute, hour, day) at once, for live ingestion and history alike.
 *
 * The limiter is a sliding-window log: every grant is remembered with its instant and weight, and a
 * request starts only when, for every window of length W and capacity C, the weight granted in the
 * last W plus its own is at most C. So no span of length W — wherever the provider's own windows are
 * aligned (calendar minutes, a window opened by our first call, a sliding one) — ever holds more than
 * C. A fixed window opened at the first call (what rate-limiter-flexible's memory limiter keeps) allows
 * up to 2 C in a span of W straddling two windows, which a provider counting calendar minutes answers
 * with 429s or, for the day quota, with a blocked IP until midnight; see docs/decisions.md.
 */
import { ConfigError } from "../config/env.ts";
import type { ProviderSource } from "../domain/observation.ts";
import type { BronzeRepository } from "../ports.ts";

/** A tier's quotas in weighted calls per window (Open-Meteo free: 600 / 5,000 / 10,000). */
export interface ProviderLimits {
  perMinute: number;
  perHour: number;
  perDay: number;
}

/** No limit at all (the bundled simulator: it is ours and local). */
export const UNLIMITED: ProviderLimits = {
  perMinute: Number.POSITIVE_INFINITY,
  perHour: Number.POSITIVE_INFINITY,
  perDay: Number.POSITIVE_INFINITY,
};

/**
 * Weighted calls of one Open-Meteo request, as its pricing page defines them: "requests for data
 * covering more than 10 weather variables or extending over a period of more than 2 weeks for a
 * single location are considered multiple API calls … fractional counts are used" (15 variables over
 * 2 weeks = 1.5 calls, 15 variables over 4 weeks = 3.0), and several coordinates multiply the
 * single-location value, "a minimum of 1 is always applied before" (the maintainer, open-meteo#1295).
 *
 * `max(variables / 10, 1) × max(days / 14, 1) × locations`, fractional, never rounded. Open-Meteo's
 * server computes `max(1, variables / 10 × max(days / 14, 1))` per location, which is never more than
 * this (it differs only below 10 variables over more than 14 days), so the limiter errs on the safe side.
 *
 * @param variables weather variables requested (hourly + daily + current, each model counted apart)
 * @param days the period covered, in days (a current-conditions request is 1)
 * @param locations coordinates in the request
 */
export function openMeteoWeight(args: { variables: number; days: number; locations: number }): number {
  const { variables, days, locations } = args;
  for (const [name, value] of Object.entries(args)) {
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new RangeError(`openMeteoWeight: ${name} must be a finite number ≥ 0, got ${value}`);
    }
  }
  return Math.max(variables / 10, 1) * Math.max(days / 14, 1) * locations;
}

/** The configuration prefix of each source's limits, named in error messages. */
const SETTING_PREFIX: Record<ProviderSource, string> = {
  "open-meteo": "OPEN_METEO_CALLS_PER",
  openweather: "OPENWEATHER_CALLS_PER",
  simulator: "OPEN_METEO_CALLS_PER",
};

/** One sliding window: at most `capacity` weighted calls in any span of `durationMs`. */
export interface LimitWindow {
  /** `minute`, `hour`, `day` (or anything, in tests). */
  name: string;
  durationMs: number;
  capacity: number;
  /** The variable that sets `capacity`, for messages, e.g. `OPEN_METEO_CALLS_PER_MINUTE`. */
  setting?: string;
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** The three windows of a tier; infinite capacities are left out (nothing to wait for). */
export function tierWindows(limits: ProviderLimits, source?: ProviderSource): LimitWindow[] {
  const prefix = source ? SETTING_PREFIX[source] : undefined;
  const all: LimitWindow[] = [
    {
      name: "minute",
      durationMs: MINUTE_MS,
      capacity: limits.perMinute,
      setting: prefix && `${prefix}_MINUTE`,
    },
    { name: "hour", durationMs: HOUR_MS, capacity: limits.perHour, setting: prefix && `${prefix}_HOUR` },
    { name: "day", durationMs: DAY_MS, capacity: limits.perDay, setting: prefix && `${prefix}_DAY` },
  ];
  for (const w of all) {
    if (!(w.capacity > 0)) throw new RangeError(`the per-${w.name} limit must be > 0, got ${w.capacity}`);
  }
  return all.filter((w) => Number.isFinite(w.capacity));
}

/**
 * A request weighs more than a whole window allows, so it could never be sent: thrown by
 * {@link WeightedLimiter.acquire} at once instead of waiting forever. A configuration problem (batch
 * size or date range against the tier), so the CLI exits 2.
 */
export class WeightExceedsLimitError extends ConfigError {
  override name = "WeightExceedsLimitError";
  constructor(
    readonly weight: number,
    readonly window: LimitWindow,
  ) {
    super(
      `A request weighing ${round(weight)} weighted calls can never fit the per-${window.name} limit of ` +
        `${window.capacity}${window.setting ? ` (${window.setting})` : ""}. Split it: fewer locations per ` +
        "request (OPEN_METEO_BATCH_SIZE), a shorter date range or fewer variables — or raise the limit " +
        "if your plan allows more.",
    );
  }
}

/** Weighted calls made at an instant: a grant, or a run's total read back from the ledger. */
export interface WeightedUsage {
  at: Date;
  weightedCalls: number;
}

// Sums of fractional weights drift by ulps; a grant that fits "exactly" must not wait for rounding.
const EPSILON = 1e-9;

interface Waiter {
  weight: number;
  resolve: (grantedAt: number) => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * Waits until a weight fits every window, in arrival order (first come, first served: a heavy request
 * is never overtaken forever by light ones). See the module header for the guarantee.
 */
export class WeightedLimiter {
  readonly windows: readonly LimitWindow[];
  private readonly now: () => number;
  // The log, sorted by instant; entries before `base` have left every window.
  private log: { at: number; weight: number }[] = [];
  private base = 0;
  // Per window: index of its oldest entry still inside it, and the weight inside it.
  private heads: number[];
  private sums: number[];
  private readonly waiters: Waiter[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(windows: readonly LimitWindow[], opts: { now?: () => number } = {}) {
    for (const w of windows) {
      if (!(w.durationMs > 0) || !(w.capacity > 0)) {
        throw new RangeError(`window ${w.name}: duration and capacity must be > 0`);
      }
    }
    this.windows = windows;
    this.now = opts.now ?? Date.now;
    this.heads = windows.map(() => 0);
    this.sums = windows.map(() => 0);
  }

  /**
   * Resolves, with the instant it was granted (ms since the epoch), once `weight` fits every window;
   * the weight then counts in them. Never rejects a weight that could fit later.
   *
   * @throws {WeightExceedsLimitError} at once when `weight` exceeds a window's whole capacity.
   * @throws the abort reason when `signal` aborts while waiting (nothing is counted then).
   */
  acquire(weight: number, signal?: AbortSignal): Promise<number> {
    try {
      if (!(weight >= 0) || !Number.isFinite(weight)) {
        throw new RangeError(`weight must be a finite number ≥ 0, got ${weight}`);
      }
      this.assertFits(weight);
    } catch (e) {
      return Promise.reject(e);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = { weight, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i < 0) return;
          this.waiters.splice(i, 1);
          reject(signal.reason);
          // The head may have gone: the next one gets its turn now, not when the old timer fires.
          if (i === 0) this.pump();
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      if (this.waiters.length === 1) this.pump();
    });
  }

  /** Throws {@link WeightExceedsLimitError} when `weight` could never fit a window: check before starting. */
  assertFits(weight: number): void {
    const tooBig = this.windows.find((w) => weight > w.capacity + EPSILON);
    if (tooBig) throw new WeightExceedsLimitError(weight, tooBig);
  }

  /**
   * Counts usage made elsewhere (other processes, earlier runs: the ledger) at its instants, so the
   * windows start where the provider's counters are. Entries older than every window are ignored.
   */
  seed(entries: readonly WeightedUsage[]): void {
    const horizon = this.now() - this.longestWindowMs;
    const fresh = entries
      .filter((e) => e.weightedCalls > 0 && e.at.getTime() > horizon)
      .map((e) => ({ at: e.at.getTime(), weight: e.weightedCalls }));
    if (fresh.length === 0) return;
    this.log = [...this.log.slice(this.base), ...fresh].sort((a, b) => a.at - b.at);
    this.base = 0;
    this.heads = this.windows.map(() => 0);
    this.sums = this.windows.map(() => this.log.reduce((n, e) => n + e.weight, 0));
    this.advance(this.now());
    this.pump();
  }

  /** Weight inside each window right now, by window name (for estimates and logs). */
  usage(): Record<string, number> {
    this.advance(this.now());
    return Object.fromEntries(this.windows.map((w, i) => [w.name, Math.max(0, this.sums[i] ?? 0)]));
  }

  /** Requests waiting for room. */
  get pending(): number {
    return this.waiters.length;
  }

  /** The longest window's length: usage older than this no longer matters. */
  get longestWindowMs(): number {
    return Math.max(0, ...this.windows.map((w) => w.durationMs));
  }

  /** Moves each window's head past entries that have left it: an entry at t counts in [t, t + W). */
  private advance(now: number): void {
    this.windows.forEach((w, i) => {
      let head = this.heads[i] ?? 0;
      let sum = this.sums[i] ?? 0;
      while (head < this.log.length && (this.log[head]?.at ?? 0) + w.durationMs <= now) {
        sum -= this.log[head]?.weight ?? 0;
        head += 1;
      }
      this.heads[i] = head;
      this.sums[i] = sum;
    });
    const oldest = Math.min(...this.heads, this.log.length);
    this.base = oldest;
    // Drop what no window holds any more, now and then (not on every grant).
    if (this.base > 1024 && this.base * 2 > this.log.length) {
      this.log = this.log.slice(this.base);
      this.heads = this.heads.map((h) => h - this.base);
      this.base = 0;
    }
  }

  /** Milliseconds until `weight` fits every window; 0 when it fits now. */
  private waitFor(weight: number, now: number): number {
    let wait = 0;
    this.windows.forEach((w, i) => {
      let over = (this.sums[i] ?? 0) + weight - w.capacity;
      let j = this.heads[i] ?? 0;
      // Oldest entries leave first: wait for the one whose leaving makes room.
      while (over > EPSILON && j < this.log.length) {
        const entry = this.log[j] as { at: number; weight: number };
        over -= entry.weight;
        if (over <= EPSILON) wait = Math.max(wait, entry.at + w.durationMs - now);
        j += 1;
      }
      if (over > EPSILON) {
        // Only rounding drift can leave the sum above what the entries hold: resync, look again soon.
        let exact = 0;
        for (let k = this.heads[i] ?? 0; k < this.log.length; k++) exact += this.log[k]?.weight ?? 0;
        this.sums[i] = exact;
        wait = Math.max(wait, 1);
      }
    });
    return Math.max(0, wait);
  }

  private pump(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (;;) {
      const head = this.waiters[0];
      if (!head) return;
      const now = this.now();
      this.advance(now);
      const wait = this.waitFor(head.weight, now);
      if (wait > 0) {
        // Timers may fire a little early against the wall clock: pump re-checks and waits again.
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      this.waiters.shift();
      if (head.signal && head.onAbort) head.signal.removeEventListener("abort", head.onAbort);
      if (head.weight > 0) {
        this.log.push({ at: now, weight: head.weight });
        this.sums = this.sums.map((s) => s + head.weight);
      }
      head.resolve(now);
    }
  }
}

/** A limiter for a tier's minute, hour and day windows. */
export function createWeightedLimiter(
  limits: ProviderLimits,
  opts: { source?: ProviderSource; now?: () => number } = {},
): WeightedLimiter {
  return new WeightedLimiter(tierWindows(limits, opts.source), { now: opts.now });
}

/**
 * A limiter for `source`'s tier that starts where the shared ledger says the provider's counters are:
 * every run of the last day (any process, any Lambda) that recorded weighted calls. Unlimited tiers
 * (the simulator) skip the read.
 */
export async function ledgerSeededLimiter(
  source: ProviderSource,
  limits: ProviderLimits,
  ledger: Pick<BronzeRepository, "weightedCallsSince">,
  opts: { now?: () => number } = {},
): Promise<WeightedLimiter> {
  const limiter = createWeightedLimiter(limits, { source, now: opts.now });
  if (limiter.windows.length === 0) return limiter;
  const now = (opts.now ?? Date.now)();
  limiter.seed(await ledger.weightedCallsSince(source, new Date(now - limiter.longestWindowMs)));
  return limiter;
}

/** Weighted calls already inside each window (from {@link WeightedLimiter.usage} or the ledger). */
export type WindowUsage = ProviderLimits;

export interface ScheduleEstimate {
  /** The work's weighted calls. */
  weightedCalls: number;
  /** True when today's remaining quota (trailing 24 h) holds all of it. */
  fitsToday: boolean;
  /**
   * The least time it can take at the tier's limits, starting now with `usedInWindows` spent (counted
   * as if just made — an upper bound when that usage is older). Latency and concurrency come on top.
   */
  estimatedDurationMs: number;
  /** The window that sets `estimatedDurationMs`; null when the work fits every window at once. */
  windowThatBinds: "minute" | "hour" | "day" | null;
  /** Today's quota left before the work starts. */
  remainingToday: number;
}

/**
 * What a piece of work costs against a tier, before it starts: "this needs N weighted calls, X of
 * today's quota is used, it will take about T". In each window of length W and capacity C with U used,
 * the first C − U go at once and every further W lets C more through; the slowest window binds.
 *
 * @param limits the tier
 * @param usedInWindows weighted calls already made in the trailing minute, hour and day
 * @param totalWeight the work's weighted calls (sum of its requests' weights)
 */
export function estimateSchedule(
  limits: ProviderLimits,
  usedInWindows: WindowUsage,
  totalWeight: number,
): ScheduleEstimate {
  if (!(totalWeight >= 0) || !Number.isFinite(totalWeight)) {
    throw new RangeError(`totalWeight must be a finite number ≥ 0, got ${totalWeight}`);
  }
  const windows = [
    { name: "minute" as const, ms: MINUTE_MS, cap: limits.perMinute, used: usedInWindows.perMinute },
    { name: "hour" as const, ms: HOUR_MS, cap: limits.perHour, used: usedInWindows.perHour },
    { name: "day" as const, ms: DAY_MS, cap: limits.perDay, used: usedInWindows.perDay },
  ];
  let estimatedDurationMs = 0;
  let windowThatBinds: ScheduleEstimate["windowThatBinds"] = null;
  for (const w of windows) {
    if (!Number.isFinite(w.cap)) continue;
    const rest = totalWeight - Math.max(0, w.cap - Math.max(0, w.used));
    const ms = rest > EPSILON ? Math.ceil(rest / w.cap - EPSILON) * w.ms : 0;
    if (ms > estimatedDurationMs) {
      estimatedDurationMs = ms;
      windowThatBinds = w.name;
    }
  }
  const remainingToday = Math.max(0, limits.perDay - Math.max(0, usedInWindows.perDay));
  return {
    weightedCalls: totalWeight,
    fitsToday: totalWeight <= remainingToday + EPSILON,
    estimatedDurationMs,
    windowThatBinds,
    remainingToday,
  };
}

/** The limiter's usage in the shape {@link estimateSchedule} takes. */
export function windowUsage(limiter: WeightedLimiter): WindowUsage {
  const u = limiter.usage();
  return { perMinute: u.minute ?? 0, perHour: u.hour ?? 0, perDay: u.day ?? 0 };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
