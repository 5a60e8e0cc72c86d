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
