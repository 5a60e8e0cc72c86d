/**
 * The status use case over a fake StatusReader: what the reader found passes through, and the
 * freshness verdict is judged as of the caller's `now` (120 minutes at most since the newest observation).
 */
import { describe, expect, it } from "vitest";
import type { StatusFacts } from "#core/ports.ts";
import { readStatus } from "#core/use-cases/status.ts";

const NOW = new Date("2026-11-23T12:00:00Z");
const minutesBefore = (m: number) => new Date(NOW.getTime() - m * 60_000);

const facts = (latestObservedAt: Date | null): StatusFacts => ({
  layers: { bronze: { weather_observations: 3 }, silver: {}, gold: {} },
  quarantined: 1,
  lastIngestionRuns: [],
  lastWorkflow: null,
  lastTransform: null,
  lastQualityCheck: null,
  lastQualityChecks: [],
  latestObservedAt,
  abandonedRuns: [],
});

describe("readStatus", () => {
  it("reports data observed 120 minutes ago fresh and 121 minutes ago stale", async () => {
    // Prepare / Act
    const edge = await readStatus({ read: async () => facts(minutesBefore(120)) }, NOW);
    const late = await readStatus({ read: async () => facts(minutesBefore(121)) }, NOW);

    // Assess
    expect(edge.freshness).toEqual({
      latestObservedAt: "2026-11-23T10:00:00.000Z",
      ageMinutes: 120,
      fresh: true,
    });
    expect(late.freshness).toMatchObject({ ageMinutes: 121, fresh: false });
    expect(edge).toMatchObject({ quarantined: 1, layers: { bronze: { weather_observations: 3 } } });
    expect(edge).not.toHaveProperty("latestObservedAt");
  });

  it("reports an empty bronze as not fresh, with no age", async () => {
    const report = await readStatus({ read: async () => facts(null) }, NOW);
    expect(report.freshness).toEqual({ latestObservedAt: null, ageMinutes: null, fresh: false });
  });
});
