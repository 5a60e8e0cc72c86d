/**
 * bin/weather.js runs the bundle scripts/build-cli.mjs makes (at `npm ci`) only while it is fresh: a
 * source file newer than the bundle, a missing bundle or WEATHER_CLI_SOURCES=1 runs the TypeScript
 * sources instead, and both say the same.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUNDLE = join(ROOT, "dist/cli/main.mjs");

function weather(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/weather.js"), ...args], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: "", WEATHER_CLI_TRACE: "1", ...env },
  });
  const ran = /weather: running (.*)/.exec(r.stderr)?.[1];
  return { code: r.status, stdout: r.stdout, ran: ran === BUNDLE ? "bundle" : ran };
}

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build-cli.mjs")], { stdio: "ignore" });
}, 60_000);

describe("the weather command's bundle", () => {
  it("runs while fresh, and answers as the sources do", () => {
    const bundled = weather(["run", "--help"]);
    const sources = weather(["run", "--help"], { WEATHER_CLI_SOURCES: "1" });
    expect(bundled.ran).toBe("bundle");
    expect(sources.ran).toBe("the sources (tsx)");
    expect(bundled.code).toBe(0);
    expect(bundled.stdout).toBe(sources.stdout);
    expect(bundled.stdout).toContain("--source");
  });

  it("lists the repository files it was built from, and no dependency", () => {
    const inputs = JSON.parse(readFileSync(join(ROOT, "dist/cli/inputs.json"), "utf8")) as string[];
    expect(inputs).toContain("cli/main.ts");
    expect(inputs).toContain("core/config/env.ts");
    expect(inputs.some((f) => f.includes("node_modules"))).toBe(false);
  });

  it("steps aside for the sources when a file it was built from is newer", () => {
    // Prepare: make the bundle older than its inputs, as an edit after `npm ci` does.
    const built = statSync(BUNDLE).mtime;
    try {
      utimesSync(BUNDLE, new Date("2000-01-01"), new Date("2000-01-01"));
      // Act + Assess
      expect(weather(["--help"]).ran).toBe("the sources (tsx)");
    } finally {
      utimesSync(BUNDLE, built, built);
    }
    expect(weather(["--help"]).ran).toBe("bundle");
  });
});
