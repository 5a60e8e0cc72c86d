/**
 * An ingestion interval is one UTC hour, written `2026-11-22T13`. Run names, execution names and raw
 * object keys derive from it, so a duplicate trigger for the same hour is a no-op.
 */
export type Interval = string & { readonly __brand: "Interval" };

const INTERVAL_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})$/;

export class IntervalError extends Error {
  override name = "IntervalError";
}

/** Parses `YYYY-MM-DDTHH` (UTC); also accepts any ISO timestamp and truncates it to its hour. */
export function parseInterval(text: string): Interval {
  if (INTERVAL_RE.test(text)) {
    const start = new Date(`${text}:00:00Z`);
    if (!Number.isNaN(start.getTime()) && intervalOf(start) === text) return text as Interval;
  } else {
    const d = new Date(text);
    if (/^\d{4}-\d{2}-\d{2}T/.test(text) && !Number.isNaN(d.getTime())) return intervalOf(d);
  }
  throw new IntervalError(`Invalid interval "${text}": use a UTC hour like 2026-11-22T13`);
}

/** The interval containing instant `d`. */
export function intervalOf(d: Date): Interval {
  return d.toISOString().slice(0, 13) as Interval;
}

export function intervalStart(i: Interval): Date {
  return new Date(`${i}:00:00Z`);
}

export function addHours(i: Interval, hours: number): Interval {
  return intervalOf(new Date(intervalStart(i).getTime() + hours * 3_600_000));
}

/** Every interval from `from` to `to`, both included, oldest first. */
export function intervalRange(from: Interval, to: Interval): Interval[] {
  const out: Interval[] = [];
  for (let i = from; i <= to; i = addHours(i, 1)) out.push(i);
  return out;
}

/**
 * A range of hours as one label, `2026-11-01T00..2026-11-14T23` (both included): history runs file it
 * where an ingestion run files its hour. It sorts with its first hour.
 */
export function rangeLabel(from: Interval, to: Interval): string {
  return `${from}..${to}`;
}

/** The archive's first hour: Open-Meteo's historical API starts in 1940; nothing earlier exists. */
export const FIRST_INTERVAL = "1940-01-01T00" as Interval;

/** The hours a command may name at `now`: the archive's first hour through the next hour. */
export function intervalBounds(now: Date): { first: Interval; last: Interval } {
  return { first: FIRST_INTERVAL, last: addHours(intervalOf(now), 1) };
}

/**
 * Rejects an interval outside {@link intervalBounds} (a typo such as 2062 or 0001, or a clock far
 * off), so no run is ever filed under an hour that cannot hold data. `label` names the input in the
 * message, e.g. `--from`. Returns the interval unchanged; throws {@link IntervalError}.
 */
export function checkIntervalBounds(interval: Interval, now: Date, label = "interval"): Interval {
  const { first, last } = intervalBounds(now);
  if (interval < first || interval > last)
    throw new IntervalError(
      `${label} ${interval} is out of range: use an hour from ${first} (the archive's first) to ${last} ` +
        "(the current UTC hour + 1)",
    );
  return interval;
}
