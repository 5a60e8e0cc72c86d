// npm ci / npm install: build the embedded default's start template (scripts/embedded-template.ts),
// so a new user's first run skips PGlite's initdb. Never fails the install: without dev dependencies
// (no tsx) or on any error, fresh homes simply run initdb as before.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
try {
  require.resolve("tsx");
} catch {
  process.exit(0);
}
const { DATABASE_URL: _url, DATABASE_SECRET_ARN: _arn, ...env } = process.env;
const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/embedded-template.ts"], {
  stdio: "inherit",
  env,
});
if (r.status !== 0) process.stderr.write("embedded template: not built; fresh homes will run initdb\n");
