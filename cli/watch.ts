/**
 * `weather invoke --watch`: one fresh child process per run (`weather invoke` without --watch), so
 * every run imports the handler and core anew — as a new Lambda container would — and run again when
 * a source file changes. Node's own recursive `fs.watch` (Linux since Node 20): no dependency, and no
 * `node --watch`, which prints its restart notices on stdout, where the JSON documents go.
 */
import { spawn } from "node:child_process";
import { type FSWatcher, watch } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { text } from "node:stream/consumers";
import { PROJECT_ROOT } from "#core/config/paths.ts";

const ROOT = PROJECT_ROOT;
const BIN = join(ROOT, "bin", "weather.js");

/** The sources a handler is made of: its own code, core, and the SQL it runs. */
export const DEFAULT_WATCH_PATHS = ["functions", "core", "sql"].map((d) => join(ROOT, d));

/** Only source files count: an editor's swap and backup files do not. */
const SOURCE = /\.(ts|sql|ya?ml|json)$/;

/**
 * Runs `weather <argv without --watch>` now and again after every change under `paths` (changes during
 * a run queue one more run; a run is never cut short). With `--event -` stdin is read once, so every
 * run gets the same event. Returns the last run's exit code once SIGINT or SIGTERM arrives.
 */
export async function watchInvocations(opts: {
  argv: string[];
  paths: string[];
  say: (text: string) => void;
}): Promise<number> {
  const tmp = await mkdtemp(join(tmpdir(), "weather-invoke-"));
  const { args, eventFile } = await childArgs(opts.argv, tmp);
  let lastCode = 0;
  let child: ReturnType<typeof spawn> | undefined;
  let again = false;
  const runOnce = (why: string) => {
    if (child) {
      again = true;
      return;
    }
    opts.say(`weather invoke: ${why}`);
    child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "inherit", "inherit"] });
    child.on("close", (code) => {
      child = undefined;
      lastCode = code ?? 1;
      opts.say(
        `weather invoke: exit ${lastCode}; watching ${opts.paths.join(", ")} for changes (Ctrl-C stops)`,
      );
      if (again) {
        again = false;
        runOnce("changes arrived during the run; invoking again");
      }
    });
  };

  let timer: NodeJS.Timeout | undefined;
  const changed = (file: string) => {
    clearTimeout(timer);
    // One run per burst: a save often fires several events, a checkout hundreds.
    timer = setTimeout(() => runOnce(`${file} changed; invoking again`), 150);
  };
  const watchers: FSWatcher[] = opts.paths.map((dir) =>
    watch(resolve(dir), { recursive: true }, (_event, name) => {
      if (name && SOURCE.test(name)) changed(join(dir, name));
    }),
  );
  if (eventFile)
    watchers.push(
      watch(dirname(eventFile), (_event, name) => {
        if (name === basename(eventFile)) changed(eventFile);
      }),
    );

  runOnce("first run");
  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  clearTimeout(timer);
  for (const w of watchers) w.close();
  if (child) {
    const exited = new Promise((r) => child?.once("close", r));
    child.kill("SIGTERM");
    await exited;
  }
  await rm(tmp, { recursive: true, force: true });
  return lastCode;
}

/** The child's arguments: --watch and --watch-path dropped; `--event -` replaced by a file of stdin. */
async function childArgs(argv: string[], tmp: string): Promise<{ args: string[]; eventFile?: string }> {
  const args: string[] = [];
  let eventFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--watch" || arg.startsWith("--watch-path=")) continue;
    if (arg === "--watch-path") {
      i++;
      continue;
    }
    let event: string | undefined;
    if (arg === "--event") event = argv[++i];
    else if (arg.startsWith("--event=")) event = arg.slice("--event=".length);
    else {
      args.push(arg);
      continue;
    }
    if (event === "-") {
      event = join(tmp, "event.json");
      await writeFile(event, await text(process.stdin));
    } else if (event !== undefined) eventFile = resolve(event);
    args.push("--event", event ?? "");
  }
  return { args, eventFile };
}
