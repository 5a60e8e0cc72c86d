/**
 * What is in the warehouse right now: rows per layer, the latest runs and how fresh the data is.
 * Layers that do not exist yet (no transform has run) are reported empty, not as errors.
 * A run still `running` past its lease is reported as `abandoned` (its process died; see
 * core/db/leases.ts), and listed in `abandonedRuns` until a later run of that hour takes over.
 */
import type { StatusFacts, StatusReader } from "../ports.ts";

/** The status report: everything the reader found, and whether the data is fresh. */
export interface StatusReport extends Omit<StatusFacts, "latestObservedAt"> {
  freshness: { latestObservedAt: string | null; ageMinutes: number | null; fresh: boolean };
}

export type AbandonedKind = StatusFacts["abandonedRuns"][number]["kind"];

/** Data older than this (by its latest observation) is reported stale. */
export const FRESH_MINUTES = 120;

/**
 * Reads the status through `reader` (on Postgres: core/adapters/pg-status-reader.ts) and judges the
 * data's freshness as of `now`.
 */
export async function readStatus(reader: StatusReader, now: Date = new Date()): Promise<StatusReport> {
  const { latestObservedAt, ...facts } = await reader.read();
  const ageMinutes = latestObservedAt
    ? Math.round((now.getTime() - latestObservedAt.getTime()) / 60_000)
    : null;
  return {
    ...facts,
    freshness: {
      latestObservedAt: latestObservedAt ? latestObservedAt.toISOString() : null,
      ageMinutes,
      fresh: ageMinutes !== null && ageMinutes <= FRESH_MINUTES,
    },
  };
}
