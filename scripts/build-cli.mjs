// Bundles the `weather` CLI (cli/main.ts and everything it imports from this repository) into
// dist/cli/main.mjs with esbuild, dependencies left external, plus dist/cli/inputs.json: the source
// files it was built from. bin/weather.js runs the bundle only while no input is newer than it, and the
// TypeScript sources through tsx otherwise, so an edited tree never runs stale code. The bundle saves
// tsx's start-up (about 0.5 s and 55 MiB per command on this machine: bench/results/first-run.md).
// Run by `npm ci` (scripts/postinstall.mjs) and `npm run build:cli`; the sources alone always work.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "dist/cli/main.mjs");
mkdirSync(dirname(outfile), { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ["cli/main.ts"],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
  write: false,
});
// Each file replaced whole (write, then rename): a `weather` started meanwhile reads old or new.
const replace = (path, contents) => {
  writeFileSync(`${path}.${process.pid}.tmp`, contents);
  renameSync(`${path}.${process.pid}.tmp`, path);
};
for (const file of result.outputFiles) replace(file.path, file.contents);
const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith("node_modules/"));
replace(join(root, "dist/cli/inputs.json"), `${JSON.stringify(inputs, null, 1)}\n`);
process.stderr.write(`weather CLI: bundled ${inputs.length} source files into dist/cli/main.mjs\n`);
