/**
 * CLI output rules: human text and progress go to stderr; `--json` prints exactly one JSON document
 * on stdout, so scripts can parse it.
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

export function createOutput(json: boolean): Output {
  const tty = Boolean(process.stderr.isTTY);
  return {
    json,
    say: (text) => process.stderr.write(`${text}\n`),
    result(doc, human) {
      if (json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
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
