#!/usr/bin/env node
// The `weather` command. The sources are TypeScript run through tsx, so a clone works without a build.
// `npm ci` also bundles them (scripts/build-cli.mjs → dist/cli/main.mjs), which starts about 0.5 s
// faster; that bundle runs only while none of the files it was built from is newer than it, so an
// edited tree always runs its sources. WEATHER_CLI_SOURCES=1 forces the sources;
// WEATHER_CLI_TRACE=1 prints which one runs.
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bundle = `${root}dist/cli/main.mjs`;

function bundleIsFresh() {
  if (process.env.WEATHER_CLI_SOURCES === "1") return false;
  try {
    const built = statSync(bundle).mtimeMs;
    const inputs = JSON.parse(readFileSync(`${root}dist/cli/inputs.json`, "utf8"));
    return inputs.every((file) => statSync(`${root}${file}`).mtimeMs <= built);
  } catch {
    return false; // no bundle, or an input gone: the sources decide
  }
}

if (bundleIsFresh()) {
  if (process.env.WEATHER_CLI_TRACE === "1") process.stderr.write(`weather: running ${bundle}\n`);
  await import(bundle);
} else {
  if (process.env.WEATHER_CLI_TRACE === "1") process.stderr.write("weather: running the sources (tsx)\n");
  const { register } = await import("tsx/esm/api");
  register();
  await import("../cli/main.ts");
}
