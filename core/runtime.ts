/**
 * The composition root for ingestion: turns a validated {@link Config} into the adapters the use
 * cases need. The CLI and the ingest handler build their dependencies here, so all three runtimes
 * wire the same way. (Workflow handlers need only the database: see adapters/connect-database.ts.)
 */
import { type ConnectOptions, connectDatabase } from "./adapters/connect-database.ts";
import type { Database } from "./adapters/database.ts";
import { fsRawStore } from "./adapters/fs-raw-store.ts";
import { pgBronzeRepository } from "./adapters/pg-bronze-repository.ts";
import { s3Client, s3RawStore } from "./adapters/s3-raw-store.ts";
import { readSecret } from "./adapters/secrets.ts";
import { type Config, rawStoreLocation } from "./config/env.ts";
import type { ProviderSource } from "./domain/observation.ts";
import type { BronzeRepository, RawStore, WeatherProvider } from "./ports.ts";
import { createProvider, MissingApiKeyError } from "./providers/index.ts";

export function rawStoreFor(config: Config): RawStore {
  const location = rawStoreLocation(config);
  return location.startsWith("s3://") ? s3RawStore(s3Client(config), location) : fsRawStore(location);
}

/** The provider for a source; the OpenWeatherMap key comes from the env locally, Secrets Manager in the cloud. */
export async function providerFor(config: Config, source: ProviderSource): Promise<WeatherProvider> {
  if (source !== "openweather") return createProvider(config, source);
  const apiKey =
    config.OPENWEATHER_API_KEY ??
    (config.OPENWEATHER_SECRET_ARN ? await readSecret(config, config.OPENWEATHER_SECRET_ARN) : undefined);
  if (!apiKey) throw new MissingApiKeyError();
  return createProvider(config, source, { apiKey });
}

export interface Runtime {
  config: Config;
  db: Database;
  rawStore: RawStore;
  bronze: BronzeRepository;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, opts: ConnectOptions = {}): Promise<Runtime> {
  const db = await connectDatabase(config, opts);
  return {
    config,
    db,
    rawStore: rawStoreFor(config),
    bronze: pgBronzeRepository(db.pool, { copy: !db.embedded }),
    close: () => db.close(),
  };
}
