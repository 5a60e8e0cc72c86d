/**
 * bench:bundle — bundles each Lambda entry with the stack's esbuild settings (ESM, minified, source
 * maps, AWS SDK included) and measures, per function, the minified size and the cold module-load time
 * (`import()` of the bundle in a fresh `node` process, median of several processes).
 *
 *   npm run bench:bundle [-- --runs 5]
 *
 * Goals: each bundle ≤ 400 KB minified; cold module load ≤ 100 ms on this machine.
 * Results: bench/results/bundle.{json,md}; the largest inputs per bundle are listed to show what to cut.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type Metafile } from "esbuild";
import { BUNDLED_FILES, ESBUILD_TARGET, LAMBDA_ALIASES } from "../stacks/constructs/function-factory.ts";
import { FUNCTIONS } from "../stacks/constructs/stateless.ts";
import { type BenchRow, benchOptions, writeResults } from "./lib.ts";

const opt = benchOptions("bundle", "Each Lambda's minified bundle size and cold module-load time.", {
  runs: { default: 5, help: "fresh node processes per bundle (the median load time counts)" },
});
const RUNS = opt.runs;
const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));
/** What SST's ESM build puts in front of every bundle: a real `require` for CommonJS dependencies. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as topLevelCreateRequire } from 'module'; const require = topLevelCreateRequire(import.meta.url);";
const SIZE_GOAL_KB = 400;
const LOAD_GOAL_MS = 100;

// What the stack sets, with placeholders: enough for the env gate to pass at module load.
const FUNCTION_ENV = {
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench",
  DATABASE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
  OPENWEATHER_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:owm",
  RAW_STORE: "s3://bench-raw",
  WEATHER_SOURCE: "open-meteo",
  SITES_FILE: "config/sites.json",
  WEATHER_HOME: "/tmp/weather",
  EVENT_BUS_NAME: "default",
  ALARM_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:alarms",
  POWERTOOLS_SERVICE_NAME: "weather-dataops-bench",
  POWERTOOLS_METRICS_NAMESPACE: "WeatherDataOps",
};

const LOAD_SCRIPT = `
const { pathToFileURL } = await import("node:url");
const t0 = performance.now();
const mod = await import(pathToFileURL(process.argv[1]).href);
const ms = performance.now() - t0;
if (typeof mod.handler !== "function") throw new Error("bundle exports no handler");
process.stdout.write(String(ms));
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function topInputs(meta: Metafile, outfile: string, n: number) {
  const output = Object.entries(meta.outputs).find(([p]) => p.endsWith(outfile))?.[1];
  if (!output) return [];
  const byPackage = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const m = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    const key = m ? (m[1] as string) : "(project)";
    byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
  }
  return [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([pkg, bytes]) => ({ pkg, kb: Math.round(bytes / 102.4) / 10 }));
}

const work = mkdtempSync(join(tmpdir(), "weather-bundle-"));
const rows: BenchRow[] = [];
const details: Record<string, unknown> = {};
try {
  for (const fn of FUNCTIONS) {
    const outdir = join(work, fn.id);
    const result = await build({
      entryPoints: [join(PROJECT_ROOT, fn.entry)],
      outfile: join(outdir, "index.mjs"),
      bundle: true,
      platform: "node",
      format: "esm",
      target: ESBUILD_TARGET,
      minify: true,
      sourcemap: true,
      mainFields: ["module", "main"],
      banner: { js: ESM_REQUIRE_BANNER },
      alias: { ...LAMBDA_ALIASES },
      absWorkingDir: PROJECT_ROOT,
      metafile: true,
      logLevel: "error",
    });
    for (const f of BUNDLED_FILES)
      cpSync(join(PROJECT_ROOT, f.from), join(outdir, f.to), { recursive: true });
    const file = join(outdir, "index.mjs");
    const bytes = statSync(file).size;
    const gzip = gzipSync(readFileSync(file)).length;
    const samples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", LOAD_SCRIPT, file], {
        cwd: outdir,
        env: { PATH: process.env.PATH, ...FUNCTION_ENV },
        encoding: "utf8",
      });
      samples.push(Number(out));
    }
    const kb = bytes / 1024;
    const loadMs = median(samples);
    rows.push(
      {
        metric: `${fn.id} bundle (minified)`,
        value: Math.round(kb * 10) / 10,
        unit: "KB",
        goal: `≤ ${SIZE_GOAL_KB} KB`,
        pass: kb <= SIZE_GOAL_KB,
      },
      { metric: `${fn.id} bundle (gzip)`, value: Math.round((gzip / 1024) * 10) / 10, unit: "KB" },
      {
        metric: `${fn.id} cold module load (median of ${RUNS})`,
        value: Math.round(loadMs * 10) / 10,
        unit: "ms",
        goal: `≤ ${LOAD_GOAL_MS} ms`,
        pass: loadMs <= LOAD_GOAL_MS,
      },
    );
    details[fn.id] = {
      entry: fn.entry,
      bytes,
      gzipBytes: gzip,
      loadMsSamples: samples.map((x) => Math.round(x * 10) / 10),
      largestPackages: topInputs(result.metafile, "index.mjs", 8),
    };
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

await writeResults(
  "bundle",
  { runs: RUNS, target: ESBUILD_TARGET, esbuild: "ESM, minify, sourcemap, SDK bundled" },
  rows,
);
// Which packages dominate each bundle: the first place to look when a size goal is missed.
const json = JSON.parse(readFileSync("bench/results/bundle.json", "utf8"));
await writeFile("bench/results/bundle.json", `${JSON.stringify({ ...json, functions: details }, null, 2)}\n`);
const md = readFileSync("bench/results/bundle.md", "utf8");
const breakdown = Object.entries(details).flatMap(([id, d]) => [
  `- ${id}: ${(d as { largestPackages: { pkg: string; kb: number }[] }).largestPackages
    .map((p) => `${p.pkg} ${p.kb} KB`)
    .join(", ")}`,
]);
await writeFile(
  "bench/results/bundle.md",
  `${md}\n## Largest packages per bundle (minified bytes)\n\n${breakdown.join("\n")}\n`,
);
process.stdout.write(`\n${breakdown.join("\n")}\n`);
