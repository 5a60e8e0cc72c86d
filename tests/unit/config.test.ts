import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "#core/config/env.ts";

describe("loadConfig", () => {
  it("applies defaults", () => {
    const c = loadConfig({}, {});
    expect(c.WEATHER_SOURCE).toBe("open-meteo");
    expect(c.SITE_FAILURE_THRESHOLD).toBe(0.1);
    expect(c.DATABASE_URL).toBeUndefined();
  });

  it("lets set overrides win but never lets an unset override hide the environment", () => {
    const env = { DATABASE_URL: "postgres://env@127.0.0.1/db", WEATHER_HOME: "/env-home" };
    const c = loadConfig({ DATABASE_URL: undefined, WEATHER_HOME: "/flag-home" }, env);
    expect(c.DATABASE_URL).toBe("postgres://env@127.0.0.1/db");
    expect(c.WEATHER_HOME).toBe("/flag-home");
  });

  it("names every bad variable", () => {
    expect(() => loadConfig({}, { WEATHER_SOURCE: "met-office", SITE_FAILURE_THRESHOLD: "2" })).toThrow(
      ConfigError,
    );
    try {
      loadConfig({}, { WEATHER_SOURCE: "met-office", SITE_FAILURE_THRESHOLD: "2" });
    } catch (e) {
      expect((e as Error).message).toContain("WEATHER_SOURCE");
      expect((e as Error).message).toContain("SITE_FAILURE_THRESHOLD");
    }
  });
});
