/**
 * Maps errors to exit codes: 2 for bad input or configuration (a database the startup probe could
 * not use is configuration: DatabaseConfigError; so is an event a handler rejects, InvalidEventError),
 * 1 for everything else (a connection lost mid-run, DatabaseUnavailableError, is a failed run).
 */
import { PathNotWritableError } from "#core/adapters/writable-dir.ts";
import { ConfigError } from "#core/config/env.ts";
import { DatabaseConfigError } from "#core/db/errors.ts";
import { MonthError, RestoreRefusedError } from "#core/domain/bronze-archive.ts";
import { InvalidEventError } from "#core/domain/events.ts";
import { IntervalError } from "#core/domain/interval.ts";
import { SitesFileError } from "#core/domain/sites.ts";
import { AuthenticationError, MissingApiKeyError } from "#core/providers/index.ts";

export class UsageError extends Error {
  override name = "UsageError";
}

export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;

const BAD_INPUT = [
  ConfigError,
  DatabaseConfigError,
  IntervalError,
  SitesFileError,
  MissingApiKeyError,
  AuthenticationError,
  UsageError,
  PathNotWritableError,
  InvalidEventError,
  MonthError,
  RestoreRefusedError,
];

export function exitCodeFor(error: unknown): number {
  return BAD_INPUT.some((cls) => error instanceof cls) ? EXIT.badInput : EXIT.failed;
}
