/**
 * Shared wiring for CLI commands: flags → config overrides → runtime, with the simulator started
 * when `--source simulator` asks for it, and everything closed afterwards.
 */

import { openEmbeddedDatabase } from "#core/adapters/embedded-database.ts";
import { type Config, loadConfig, type SourceName } from "#core/config/env.ts";
import { migrate } from "#core/db/migrate.ts";
import { type Interval, intervalStart } from "#core/domain/interval.ts";
import type { ProviderSource } from "#core/domain/observation.ts";
import { createLogger } from "#core/observability/logger.ts";
import { openRuntime, type Runtime } from "#core/runtime.ts";

export interface CommonFlags {
  db?: string;
  raw?: string;
  sites?: string;
  source?: SourceName;
  home?: string;
  json?: boolean;
  verbose?: boolean;
}

export function configFrom(flags: CommonFlags, extra: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    DATABASE_URL: flags.db,
    RAW_STORE: flags.raw,
    SITES_FILE: flags.sites,
    WEATHER_SOURCE: flags.source,
    WEATHER_HOME: flags.home,
    ...extra,
  });
}

export function cliLogger(config: Config, flags: CommonFlags) {
  return createLogger({
    serviceName: config.POWERTOOLS_SERVICE_NAME,
    logLevel: flags.verbose ? "DEBUG" : "ERROR", // the human summary already lists failed sites
    stream: "stderr",
  });
}

/** Opens the runtime (and applies migrations), runs `fn`, and always closes what it opened. */
export async function withRuntime<T>(
  config: Config,
  fn: (rt: Runtime) => Promise<T>,
  opts: { migrate?: boolean } = {},
): Promise<T> {
  const rt = await openRuntime(config, { embedded: openEmbeddedDatabase });
  try {
    if (opts.migrate !== false) await migrate(rt.db.pool);
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

export interface SourceSession {
  config: Config;
  source: ProviderSource;
  /** Whether past hours can be fetched: only the simulator, whose clock can be set; live APIs serve "now". */
  supportsHistory: boolean;
  /** Points the simulator's clock at an interval (no-op for live APIs). */
  pin(interval: Interval): void;
}

/**
 * Resolves `--source`: the simulator serves the Open-Meteo API on loopback, its clock pinned to the
 * interval so the same interval always yields the same payloads — unless SIMULATOR_URL names one
 * already running. Its data is labelled `simulator`.
 */
export async function withSource<T>(
  config: Config,
  interval: Interval,
  fn: (session: SourceSession) => Promise<T>,
): Promise<T> {
  if (config.WEATHER_SOURCE !== "simulator")
    return fn({ config, source: config.WEATHER_SOURCE, supportsHistory: false, pin: () => {} });
  // A simulator someone else runs (the local cloud's, a fault test's): its clock is its own.
  if (config.SIMULATOR_URL) return fn({ config, source: "simulator", supportsHistory: false, pin: () => {} });
  const { startSimulator } = await import("../simulator/server.ts");
  let pinned = interval;
  const sim = await startSimulator({ clock: () => intervalStart(pinned) });
  try {
    return await fn({
      config: { ...config, SIMULATOR_URL: sim.url },
      source: "simulator",
      supportsHistory: true,
      pin: (i) => {
        pinned = i;
      },
    });
  } finally {
    await sim.close();
  }
}
