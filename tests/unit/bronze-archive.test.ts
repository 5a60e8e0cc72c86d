/** Bronze retention's pure parts: months, the cutoff, timestamps as text, and the Parquet codec. */
import { describe, expect, it } from "vitest";
import { timestampText } from "#core/adapters/pg-bronze-archive.ts";
import {
  BRONZE_COLUMNS,
  type BronzeBatch,
  MonthError,
  monthRange,
  parseMonth,
  retentionCutoff,
} from "#core/domain/bronze-archive.ts";
import { decodeParquet, encodeParquet } from "#core/use-cases/archive-format.ts";

describe("bronze archive months", () => {
  it("parses YYYY-MM only and covers the month half-open in UTC", () => {
    expect(parseMonth("2025-11")).toBe("2025-11");
    for (const bad of ["2025-13", "2025-1", "25-11", "2025-11-01", ""])
      expect(() => parseMonth(bad, "--month")).toThrow(MonthError);
    expect(monthRange("2025-12")).toEqual({
      start: new Date("2025-12-01T00:00:00Z"),
      end: new Date("2026-01-01T00:00:00Z"),
    });
  });

  it("keeps the current month and the N before it", () => {
    expect(retentionCutoff(new Date("2026-12-07T10:00:00Z"), 24)).toBe("2024-12");
    expect(retentionCutoff(new Date("2026-01-31T23:59:59Z"), 1)).toBe("2025-12");
  });

  it("writes µs timestamps as exact UTC text, before the epoch too", () => {
    expect(timestampText(1_762_214_400_123_456n)).toBe("2025-11-04T00:00:00.123456+00");
    expect(timestampText(-1n)).toBe("1969-12-31T23:59:59.999999+00");
    expect(timestampText(0n)).toBe("1970-01-01T00:00:00.000000+00");
  });
});

describe("bronze Parquet codec", () => {
  it("decodes exactly what it encoded: µs timestamps, -0, NaN, infinities, nulls, big xids", async () => {
    const row = (over: Record<string, unknown>) =>
      BRONZE_COLUMNS.map((c) => (c.name in over ? over[c.name] : c.nullable ? null : "x"));
    const rows = [
      row({
        observed_at: 1_762_214_400_123_456n,
        ingested_at: -1n,
        temperature_c: -0,
        feels_like_c: Number.NaN,
        humidity_pct: Number.POSITIVE_INFINITY,
        precipitation_window_minutes: 60,
        change_xid: "18446744073709551615",
        payload: '{"big": 12345678901234567890.123456789}',
      }),
      row({
        observed_at: 0n,
        ingested_at: 1n,
        temperature_c: 0.1 + 0.2,
        condition_code: "Æ 𝄞",
        change_xid: "0",
        payload: "[]",
      }),
    ];
    const batch: BronzeBatch = {
      rows: rows.length,
      columns: BRONZE_COLUMNS.map((_, i) => rows.map((r) => r[i] as string | number | bigint | null)),
    };
    const decoded = await decodeParquet(encodeParquet(batch));
    expect(decoded.rows).toBe(2);
    for (const [i, values] of decoded.columns.entries())
      for (const [j, v] of values.entries())
        expect(Object.is(v, batch.columns[i]?.[j]), `${BRONZE_COLUMNS[i]?.name}[${j}]`).toBe(true);
  });
});
