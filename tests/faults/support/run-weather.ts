/**
 * Runs the `weather` CLI as a child process from the worktree, as a user or cron would, and
 * collects its exit code, stdout and stderr. `start` returns at once (for faults injected while the
 * command runs); `weather` waits for it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

export interface WeatherResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningWeather {
  child: ChildProcess;
  done: Promise<WeatherResult>;
}

/**
 * Starts `node bin/weather.js ...args`. DATABASE_URL is cleared unless `env` sets it, so only
 * `--db` or `env` choose the database.
 */
export function startWeather(args: string[], env: Record<string, string> = {}): RunningWeather {
  const child = spawn(process.execPath, ["bin/weather.js", ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<WeatherResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Runs `weather ...args` to completion. */
export function weather(args: string[], env: Record<string, string> = {}): Promise<WeatherResult> {
  return startWeather(args, env).done;
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
