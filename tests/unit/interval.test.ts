import { describe, expect, it } from "vitest";
import {
  addHours,
  checkIntervalBounds,
  IntervalError,
  intervalOf,
  intervalRange,
  parseInterval,
} from "#core/domain/interval.ts";

describe("interval", () => {
  it("parses UTC hours and truncates timestamps", () => {
    expect(parseInterval("2026-11-22T13")).toBe("2026-11-22T13");
    expect(parseInterval("2026-11-22T13:45:10Z")).toBe("2026-11-22T13");
    expect(intervalOf(new Date("2026-11-22T23:59:59.999Z"))).toBe("2026-11-22T23");
  });

  it.each(["yesterday", "2026-11-22", "2026-13-01T00", "2026-11-22T24"])("rejects %s", (text) => {
    expect(() => parseInterval(text)).toThrow(IntervalError);
  });

  it("adds hours across days and lists ranges oldest first", () => {
    expect(addHours(parseInterval("2026-11-22T23"), 1)).toBe("2026-11-23T00");
    expect(intervalRange(parseInterval("2026-11-22T22"), parseInterval("2026-11-23T01"))).toEqual([
      "2026-11-22T22",
      "2026-11-22T23",
      "2026-11-23T00",
      "2026-11-23T01",
    ]);
  });

  describe("bounds", () => {
    const now = new Date("2026-11-23T18:30:00Z");

    it.each(["1940-01-01T00", "2026-11-23T18", "2026-11-23T19"])("accepts %s", (text) => {
      expect(checkIntervalBounds(parseInterval(text), now)).toBe(text);
    });

    it.each(["1939-12-31T23", "0001-01-01T00", "2026-11-23T20", "2031-01-01T00"])("rejects %s", (text) => {
      expect(() => checkIntervalBounds(parseInterval(text), now, "--from")).toThrow(
        new IntervalError(
          `--from ${text} is out of range: use an hour from 1940-01-01T00 (the archive's first) to ` +
            "2026-11-23T19 (the current UTC hour + 1)",
        ),
      );
    });
  });
});
