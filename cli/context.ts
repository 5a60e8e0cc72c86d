/**
 * Shared wiring for CLI commands: flags → config overrides → runtime, with the simulator started
 * when `--source simulator` asks for it, and everything closed afterwards.
 */

import { openEmbeddedDatabase } from "#core/adapters/embedded-database.ts";
import { acquireHomeLock, type LockHolder } from "#core/adapters/home-lock.ts";
import { probeWritableDirectory } from "#core/adapters/writable-dir.ts";
import {
  type Config,
  embeddedTemplateCache,
  loadConfig,
  rawStoreLocation,
  type SourceName,
} from "#core/config/env.ts";
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

/**
 * Opens the runtime (and applies migrations), runs `fn`, and always closes what it opened.
 *
 * Before anything is fetched: the local directories it will write are probed (exit 2 naming the
 * setting), and on the embedded database the single-writer lock is taken — a second process waits
 * for the first (WEATHER_LOCK_WAIT_MS) instead of silently losing rows to it.
 */
export async function withRuntime<T>(
  config: Config,
  fn: (rt: Runtime) => Promise<T>,
  opts: { migrate?: boolean; writesRaw?: boolean } = {},
): Promise<T> {
  const embedded = !config.DATABASE_URL && !config.DATABASE_SECRET_ARN;
  if (embedded) await probeWritableDirectory(config.WEATHER_HOME, "--home (WEATHER_HOME)");
  const raw = rawStoreLocation(config);
  if (opts.writesRaw && !raw.startsWith("s3://"))
    await probeWritableDirectory(raw, config.RAW_STORE ? "--raw (RAW_STORE)" : "--home (WEATHER_HOME)");
  const lock = embedded ? await lockEmbeddedDatabase(config) : undefined;
  try {
    const templateDir = embeddedTemplateCache(config);
    const rt = await openRuntime(config, {
      embedded: (dir, o) => openEmbeddedDatabase(dir, { ...o, templateDir }),
    });
    try {
      if (opts.migrate !== false) await migrate(rt.db.pool);
      return await fn(rt);
    } finally {
      await rt.close();
    }
  } finally {
    await lock?.release();
  }
}

function lockEmbeddedDatabase(config: Config) {
  const dataDir = `${config.WEATHER_HOME}/pg`;
  return acquireHomeLock(dataDir, {
    waitMs: config.WEATHER_LOCK_WAIT_MS,
    onWait: ({ holder, first, holderChanged, waitedMs, waitMs }) =>
      process.stderr.write(
        first || holderChanged
          ? `waiting for the process holding ${dataDir} (${holderText(holder)}) to finish; ` +
              `up to ${Math.round(waitMs / 1000)} s (WEATHER_LOCK_WAIT_MS) ...\n`
          : `still waiting for ${dataDir} (${holderText(holder)}): ${Math.round(waitedMs / 1000)} s of ` +
              `${Math.round(waitMs / 1000)} s ...\n`,
      ),
  });
}

function holderText(holder: LockHolder | undefined): string {
  if (!holder) return "pid unknown";
  return `pid ${holder.pid}${holder.command ? `, weather ${holder.command}` : ""}, since ${holder.since}`;
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
