/**
 * Runs the `weather` CLI as a child process from the repository root, as a user or cron would. Shared
 * by the fault suite and the CLI integration tests.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

export interface CliResult {
  /** Exit code; null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when `timeoutMs` ran out and the runner killed the process. */
  timedOut: boolean;
}

export interface CliOptions {
  /** Set on top of the test's environment; `undefined` removes a variable. DATABASE_URL is cleared unless set here. */
  env?: Record<string, string | undefined>;
  /** Node flags placed before the script (e.g. `--import` a preload). */
  nodeArgs?: string[];
  /** SIGKILLs the process after this long. Default: none (the test's own timeout bounds it). */
  timeoutMs?: number;
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves once stderr contains `text`; rejects if the process exits without printing it. */
  stderrIncludes(text: string): Promise<void>;
  /** Settles when the process has exited. Never rejects: a failed spawn gives code null and the reason on stderr. */
  done: Promise<CliResult>;
}

/** Starts `node [nodeArgs] bin/weather.js ...args` and returns at once (for faults injected mid-run). */
export function startWeather(args: string[], opts: CliOptions = {}): CliProcess {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), "bin/weather.js", ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: "", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let timedOut = false;
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    for (const w of waiters.splice(0)) {
      if (stderr.includes(w.text)) w.resolve();
      else waiters.push(w);
    }
  });
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, opts.timeoutMs);
  const done = new Promise<CliResult>((resolve) => {
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({
        code: null,
        signal: null,
        stdout,
        stderr: `${stderr}spawn failed: ${error.message}\n`,
        timedOut,
      });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  return {
    child,
    done,
    stderrIncludes: (text) =>
      new Promise<void>((resolve, reject) => {
        if (stderr.includes(text)) return resolve();
        waiters.push({ text, resolve });
        void done.then((r) =>
          r.stderr.includes(text)
            ? resolve()
            : reject(new Error(`exited without printing "${text}":\n${r.stderr}`)),
        );
      }),
  };
}

/** Runs `weather ...args` to completion; the exit code is in the result. */
export function weather(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startWeather(args, opts).done;
}

/** Polls `probe` until it returns a truthy value (no timing assertions: the test timeout bounds it). */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false>,
  everyMs = 50,
): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
