/**
 * CLI output rules: human text and progress go to stderr; `--json` prints exactly one JSON document
 * on stdout, so scripts can parse it — on every exit path, errors and crashes included.
 */
import cliProgress from "cli-progress";

export interface Output {
  json: boolean;
  /** A line for people (stderr). */
  say(text: string): void;
  /** The command's result: JSON on stdout with --json, else the human rendering on stderr. */
  result(doc: unknown, human: () => string): void;
  progress(total: number, label: string): { update(done: number): void; stop(): void };
}

/** The JSON document of a command that failed before (or instead of) producing its result. */
export interface ErrorDocument {
  error: { name: string; message: string };
  exitCode: number;
}

// One process runs one command, so "has the document been written" is process state: an error after
// the result (say, while closing the database) must not add a second document.
let documentWritten = false;
// Taken at load, before anything can reroute stdout (see routeStdoutToStderr): the document always
// reaches the real stdout.
const stdoutWrite = process.stdout.write.bind(process.stdout);

/** Prints the command's one JSON document on stdout (once per process; later calls are ignored). */
export function writeDocument(doc: unknown): void {
  if (documentWritten) return;
  documentWritten = true;
  stdoutWrite(`${JSON.stringify(doc, null, 2)}\n`);
}

/**
 * Sends every other write to stdout to stderr — Powertools Logger and Metrics build their own Console
 * on process.stdout (Lambda's log stream) and offer no option for it — so stdout carries only the
 * document. Process-wide, for `weather invoke`, which runs the handlers unchanged. Returns the undo.
 */
export function routeStdoutToStderr(): () => void {
  const original = process.stdout.write;
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  return () => {
    process.stdout.write = original;
  };
}

/**
 * Reports a failure: the message for people on stderr and, with `json`, the error document on
 * stdout unless the command already printed its result.
 */
export function reportError(
  error: unknown,
  exitCode: number,
  json: boolean,
  opts: { alreadyOnStderr?: boolean } = {},
): void {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  if (!opts.alreadyOnStderr) process.stderr.write(`weather: ${message}\n`);
  if (json) writeDocument({ error: { name, message }, exitCode } satisfies ErrorDocument);
}

export function createOutput(json: boolean): Output {
  const tty = Boolean(process.stderr.isTTY);
  return {
    json,
    say: (text) => process.stderr.write(`${text}\n`),
    result(doc, human) {
      if (json) writeDocument(doc);
      else process.stderr.write(`${human()}\n`);
    },
    progress(total, label) {
      if (!tty) return { update: () => {}, stop: () => {} };
      const bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${label} [{bar}] {value}/{total} | {percentage}% | eta {eta}s`,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
      return { update: (done) => bar.update(done), stop: () => bar.stop() };
    },
  };
}
