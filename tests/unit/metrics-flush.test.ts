/**
 * EMF allows at most 100 values per metric in one document. Powertools Metrics flushes by itself when a
 * metric reaches 100 values, so a handler adds every fetch latency it measured and none is lost or
 * sampled away: this test holds Powertools to that (functions/ingest.ts relies on it).
 */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { describe, expect, it, vi } from "vitest";
import { loadConfig } from "#core/config/env.ts";
import { observability } from "#functions/shared/wrap.ts";

describe("Powertools Metrics and EMF's 100-value limit", () => {
  it("flushes every 100 values of a metric, so 250 latencies land in full across three documents", () => {
    // Prepare
    const { metrics } = observability(loadConfig({}, {}));
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    // Act
    try {
      for (let i = 0; i < 250; i++) metrics.addMetric("FetchLatencyMs", MetricUnit.Milliseconds, i);
      metrics.publishStoredMetrics();
    } finally {
      spy.mockRestore();
    }
    // Assess
    const docs = lines
      .flatMap((l) => l.split("\n"))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as { FetchLatencyMs: number | number[] });
    const values = docs.flatMap((d) => [d.FetchLatencyMs].flat());
    expect(docs.map((d) => [d.FetchLatencyMs].flat().length)).toEqual([100, 100, 50]);
    expect(values).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });
});
