/**
 * Structured logging through Powertools Logger everywhere. Use cases accept the small {@link Log}
 * port so tests can pass a recording fake.
 */
import { Console } from "node:console";
import { Logger } from "@aws-lambda-powertools/logger";
import type { LogLevel } from "@aws-lambda-powertools/logger/types";

/** What use cases need from a logger: a message plus structured attributes, never string-built. */
export interface Log {
  debug(message: string, ...attributes: Record<string, unknown>[]): void;
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

export interface LoggerOptions {
  serviceName: string;
  logLevel?: LogLevel;
  /** The CLI keeps stdout for `--json` documents, so its logs go to stderr. */
  stream?: "stdout" | "stderr";
}

export function createLogger(opts: LoggerOptions): Logger {
  const logger = new Logger({ serviceName: opts.serviceName, logLevel: opts.logLevel ?? "INFO" });
  if (opts.stream === "stderr") {
    // Powertools builds its own Console on stdout and offers no option for it.
    (logger as unknown as { console: Console }).console = new Console({
      stdout: process.stderr,
      stderr: process.stderr,
    });
  }
  return logger;
}

/** A logger that records entries in memory: for tests and for asserting secrets never appear. */
export function memoryLog(): Log & { entries: { level: string; message: string; attributes?: unknown }[] } {
  const entries: { level: string; message: string; attributes?: unknown }[] = [];
  const at =
    (level: string) =>
    (message: string, ...attributes: Record<string, unknown>[]) => {
      entries.push({ level, message, attributes: Object.assign({}, ...attributes) });
    };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
