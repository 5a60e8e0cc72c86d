/** Runs the `weather` command as a child process, as users and cron do. Shared by the fault files. */
import { type ChildProcess, spawn } from "node:child_process";

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves when stderr has contained `text`. */
  stderrIncludes(text: string): Promise<void>;
  done: Promise<CliResult>;
}

/** Starts `node bin/weather.js ...args` on the embedded default (DATABASE_URL cleared unless given). */
export function startWeather(
  args: string[],
  opts: { env?: Record<string, string>; nodeArgs?: string[] } = {},
): CliProcess {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), "bin/weather.js", ...args], {
    env: { ...process.env, DATABASE_URL: "", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
    for (const w of waiters.splice(0)) {
      if (stderr.includes(w.text)) w.resolve();
      else waiters.push(w);
    }
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
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

export function weather(args: string[], opts: { env?: Record<string, string>; nodeArgs?: string[] } = {}) {
  return startWeather(args, opts).done;
}
