/** Validation of the events handlers receive; a bad event is the caller's mistake, never retried. */
import type * as z from "zod/mini";
import { IntervalError } from "./interval.ts";

export class InvalidEventError extends Error {
  override name = "InvalidEventError";
}

/**
 * Parses `event` with `schema`; on failure throws {@link InvalidEventError} naming each bad field and
 * the shape that was expected, so the execution history says what to send instead.
 */
export function parseEvent<T>(schema: z.ZodMiniType<T>, event: unknown, expected: string): T {
  let parsed: ReturnType<typeof schema.safeParse>;
  try {
    parsed = schema.safeParse(event);
  } catch (e) {
    // A transform inside the schema (e.g. the interval parser) throws its own error.
    if (e instanceof IntervalError)
      throw new InvalidEventError(`Invalid event (${e.message}). Send ${expected}.`);
    throw e;
  }
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .map((i) => `${i.path.join(".") || "(event)"}: ${i.message}`)
    .join("; ");
  throw new InvalidEventError(`Invalid event (${problems}). Send ${expected}.`);
}
