import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, envSchema, loadConfig } from "#core/config/env.ts";

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

  it("keeps .env.example in step with the env gate: every variable, each with its default", () => {
    const defaults = loadConfig({}, {}) as Record<string, unknown>;
    const expected = Object.keys(envSchema.shape).map((key) =>
      defaults[key] === undefined ? `# ${key}=` : `${key}=${String(defaults[key])}`,
    );
    const lines = readFileSync(".env.example", "utf8")
      .split("\n")
      .filter((l) => /^(# )?[A-Z][A-Z0-9_]*=/.test(l));
    expect(lines).toEqual(expected);
  });
});
