// npm ci / npm install: bundle the CLI (scripts/build-cli.mjs; bin/weather.js runs it while it is
// fresh) and build the embedded default's start template (scripts/embedded-template.ts), so a new
// user's first run skips PGlite's initdb. Never fails the install: without dev dependencies (no tsx,
// no esbuild) or on any error, the CLI runs its sources and fresh homes run initdb, as before.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
try {
  require.resolve("tsx");
} catch {
  process.exit(0);
}
const cli = spawnSync(process.execPath, ["scripts/build-cli.mjs"], { stdio: "inherit" });
if (cli.status !== 0) process.stderr.write("weather CLI: not bundled; it runs from its sources\n");
const { DATABASE_URL: _url, DATABASE_SECRET_ARN: _arn, ...env } = process.env;
const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/embedded-template.ts"], {
  stdio: "inherit",
  env,
});
if (r.status !== 0) process.stderr.write("embedded template: not built; fresh homes will run initdb\n");
