/**
 * bench:first-run — what a new user waits for on the embedded default: `weather run --source
 * simulator` on a fresh home (PGlite's initdb, the migrations, ingest, the workflow), then later runs
 * on the same home (the earlier hours, as the hourly cron would), each in its own process under
 * `/usr/bin/time -v` for wall time and peak RSS — through bin/weather.js, so with the CLI bundle
 * `npm ci` builds (dist/cli) — plus, in the same run, one later run per round from the TypeScript
 * sources (WEATHER_CLI_SOURCES=1), and the CLI's floor (`weather --help`: Node and the module graph).
 *
 *   npm run bench:first-run [-- --rounds 3]
 *
 * Goals (issue 16): first run ≤ 4 s and ≤ 450 MiB; later runs ≤ 2 s and ≤ 300 MiB. Each figure is the
 * median of `rounds` fresh homes. Results: bench/results/first-run.{json,md}.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addHours, intervalOf } from "#core/domain/interval.ts";
import { type BenchRow, benchOptions, writeResults } from "./lib.ts";

const opt = benchOptions(
  "first-run",
  "`weather run --source simulator` on a fresh home and later runs: time, peak RSS.",
  {
    rounds: { default: 3, help: "fresh homes (each figure is their median)" },
  },
);
const ROUNDS = opt.rounds;
const LATER_RUNS = 2;

const say = (msg: string) =>
  process.stderr.write(`[bench:first-run] ${new Date().toISOString().slice(11, 19)} ${msg}\n`);

interface Measured {
  seconds: number;
  rssMiB: number;
}

/** One `weather` process under /usr/bin/time -v; throws with its output when it fails. */
function timed(args: string[], env: Record<string, string> = {}): Measured {
  const r = spawnSync("/usr/bin/time", ["-v", process.execPath, "bin/weather.js", ...args], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: "", NO_COLOR: "1", ...env },
  });
  if (r.error) throw new Error(`/usr/bin/time: ${r.error.message} (Debian package "time")`);
  if (r.status !== 0) throw new Error(`weather ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (!wall || !rss) throw new Error(`no /usr/bin/time report in:\n${r.stderr.slice(-2000)}`);
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  return { seconds, rssMiB: Number(rss[1]) / 1024 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const floor: Measured[] = [];
const first: Measured[] = [];
const later: Measured[] = [];
/** The same later run from the TypeScript sources (tsx), as an edited tree or a tree without the bundle runs. */
const laterSources: Measured[] = [];
const SOURCES = { WEATHER_CLI_SOURCES: "1" };
const hour = intervalOf(new Date());
for (let round = 0; round < ROUNDS; round++) {
  floor.push(timed(["--help"]));
  const home = mkdtempSync(join(tmpdir(), "wdo-bench-first-run-"));
  try {
    const run = (interval: string) => [
      "run",
      "--source",
      "simulator",
      "--home",
      home,
      "--interval",
      interval,
    ];
    first.push(timed(run(hour)));
    for (let n = 1; n <= LATER_RUNS; n++) later.push(timed(run(addHours(hour, -n))));
    laterSources.push(timed(run(addHours(hour, -LATER_RUNS - 1)), SOURCES));
    say(
      `round ${round + 1}: first ${first.at(-1)?.seconds.toFixed(2)} s, ` +
        `later ${later
          .slice(-LATER_RUNS)
          .map((m) => m.seconds.toFixed(2))
          .join(" / ")} s`,
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const row = (metric: string, value: number, unit: string, goal?: number): BenchRow => ({
  metric,
  value,
  unit,
  ...(goal === undefined ? {} : { goal: `≤ ${goal} ${unit}`, pass: value <= goal }),
});
await writeResults(
  "first-run",
  {
    rounds: ROUNDS,
    laterRunsPerRound: LATER_RUNS,
    command: "weather run --source simulator --home <fresh> --interval <hour>, then the 2 hours before",
  },
  [
    row("first run: wall time (fresh home)", median(first.map((m) => m.seconds)), "s", 4),
    row("first run: peak RSS", median(first.map((m) => m.rssMiB)), "MiB", 450),
    row("later run: wall time", median(later.map((m) => m.seconds)), "s", 2),
    row("later run: peak RSS", median(later.map((m) => m.rssMiB)), "MiB", 300),
    row("later run from the sources (tsx): wall time", median(laterSources.map((m) => m.seconds)), "s"),
    row("later run from the sources (tsx): peak RSS", median(laterSources.map((m) => m.rssMiB)), "MiB"),
    row("floor: weather --help wall time", median(floor.map((m) => m.seconds)), "s"),
    row("floor: weather --help peak RSS", median(floor.map((m) => m.rssMiB)), "MiB"),
  ],
);
