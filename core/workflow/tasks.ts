/**
 * The workflow's task bodies: parse the event, call one use case, return a small result. The Lambda
 * handlers wrap these, and the embedded engine calls the very same functions.
 */
import type pg from "pg";
import { en } from "zod/locales";
import * as z from "zod/mini";
import { parseEvent } from "../domain/events.ts";
import { addHours, intervalStart, parseInterval } from "../domain/interval.ts";
import type { Log } from "../observability/logger.ts";
import { runQualityChecks } from "../use-cases/check-quality.ts";
import { runTransform } from "../use-cases/transform.ts";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

export interface TaskDeps {
  pool: pg.Pool;
  log: Log;
}

const intervalField = z.pipe(
  z.string(),
  z.transform((s: string) => parseInterval(s)),
);

export const transformEventSchema = z.object({ layer: z.enum(["silver", "gold"]), interval: intervalField });
export const checkEventSchema = z.object({
  interval: intervalField,
  layer: z.optional(z.enum(["silver", "gold"])),
});

export async function transformTask(deps: TaskDeps, event: unknown) {
  const e = parseEvent(
    transformEventSchema,
    event,
    '{ "layer": "silver" | "gold", "interval": "2026-11-22T13" }',
  );
  return runTransform({ pool: deps.pool, log: deps.log }, { layer: e.layer, interval: e.interval });
}

/**
 * Freshness is judged as of the interval's end (or now, if earlier): a backfilled hour was fresh when
 * it was due; whether data keeps arriving now is the no-data alarm's job.
 */
export async function checkQualityTask(deps: TaskDeps, event: unknown, clock: () => Date = () => new Date()) {
  const e = parseEvent(checkEventSchema, event, '{ "interval": "2026-11-22T13" }');
  const due = intervalStart(addHours(e.interval, 1));
  const now = new Date(Math.min(clock().getTime(), due.getTime()));
  return runQualityChecks({ pool: deps.pool, log: deps.log }, { interval: e.interval, layer: e.layer, now });
}
