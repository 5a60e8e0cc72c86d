/**
 * What every command shares: the common flags, the hour flags, and the one action wrapper that turns
 * flags into config, logger and output before the command's body runs. Errors are not caught here:
 * they propagate to `main`, which maps each to its exit code and keeps the `--json` contract.
 */
import { type Command, Option } from "commander";
import { type Config, SOURCES } from "#core/config/env.ts";
import {
  checkIntervalBounds,
  type Interval,
  IntervalError,
  intervalOf,
  parseInterval,
} from "#core/domain/interval.ts";
import type { Log } from "#core/observability/logger.ts";
import { type CommonFlags, cliLogger, configFrom } from "./context.ts";
import { UsageError } from "./errors.ts";
import { createOutput, type Output } from "./output.ts";

export type Flags = CommonFlags & Record<string, string | boolean | undefined>;

/** What a command's body gets: its parsed flags and the pieces every command builds from them. */
export interface ActionContext {
  flags: Flags;
  /** Positional arguments, in order (`weather invoke <function>`). */
  args: string[];
  config: Config;
  log: Log;
  out: Output;
}

/**
 * Wraps a command's body: output (`--json`), config (flags over the environment, validated: a bad
 * variable is exit 2) and logger (`--verbose`). The body returns the command's exit code.
 * `configFlags` lets a command keep a flag out of the config (replay's `--source` filters, it does
 * not choose a provider).
 */
export function action(
  body: (ctx: ActionContext) => Promise<number>,
  opts: { configFlags?: (flags: Flags) => CommonFlags } = {},
): (...commanderArgs: unknown[]) => Promise<void> {
  // commander calls an action with the positional arguments, then the options, then the command.
  return async (...commanderArgs) => {
    const flags = commanderArgs.at(-2) as Flags;
    const args = commanderArgs.slice(0, -2) as string[];
    const out = createOutput(Boolean(flags.json));
    const config = configFrom(opts.configFlags ? opts.configFlags(flags) : flags);
    const log = cliLogger(config, flags);
    process.exitCode = await body({ flags, args, config, log, out });
  };
}

/** Options every data command takes. */
export function common(cmd: Command, opts: { source?: boolean; sites?: boolean } = {}): Command {
  if (opts.source)
    cmd.addOption(
      new Option("--source <name>", "weather source (default: WEATHER_SOURCE, else open-meteo)").choices(
        SOURCES,
      ),
    );
  if (opts.sites) cmd.option("--sites <file>", "sites file (default: SITES_FILE, else config/sites.json)");
  return cmd
    .option("--db <url>", "Postgres URL (default: DATABASE_URL, else the embedded PGlite in .weather/pg)")
    .option("--raw <dir|s3://bucket>", "raw object store (default: RAW_STORE, else .weather/raw)")
    .option(
      "--home <dir>",
      "where the embedded default keeps its state (default: WEATHER_HOME, else .weather)",
    )
    .option("--json", "print one JSON document on stdout (people's text and progress stay on stderr)")
    .option("-v, --verbose", "log debug detail to stderr");
}

export const INTERVAL_HELP = "UTC hour, e.g. 2026-11-22T13 (default: the current hour)";

/** An hour flag, parsed and checked against the archive's first hour and the next hour. */
export function hourFlag(flag: string, text: string): Interval {
  let interval: Interval;
  try {
    interval = parseInterval(text);
  } catch (e) {
    throw e instanceof IntervalError ? new IntervalError(`--${flag}: ${e.message}`) : e;
  }
  return checkIntervalBounds(interval, new Date(), `--${flag}`);
}

/** `--interval`, else the current hour. */
export const intervalFlag = (flags: Flags): Interval =>
  typeof flags.interval === "string" ? hourFlag("interval", flags.interval) : intervalOf(new Date());

/** `--from` and `--to`; `--to` defaults to `toDefault` (else `--from`) and must not precede `--from`. */
export function rangeFlags(flags: Flags, toDefault?: () => Interval): { from: Interval; to: Interval } {
  const from = hourFlag("from", String(flags.from));
  const to = typeof flags.to === "string" ? hourFlag("to", flags.to) : toDefault ? toDefault() : from;
  if (to < from) throw new UsageError(`--to (${to}) is before --from (${from})`);
  return { from, to };
}
