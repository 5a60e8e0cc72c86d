/**
 * AWS client settings from the config (region, and the endpoint override that serves LocalStack), and
 * one client per kind and settings for the life of the process. In Lambda that is the container: a
 * client built at the first invocation keeps its connections and credentials for the next ones.
 * Each client lives in its own adapter module, so a handler bundles only the clients it uses.
 */
import type { Config } from "../config/env.ts";

export interface ClientSettings {
  region: string;
  endpoint?: string;
}

export function clientConfig(config: Config): ClientSettings {
  return config.AWS_ENDPOINT_URL
    ? { region: config.AWS_REGION, endpoint: config.AWS_ENDPOINT_URL }
    : { region: config.AWS_REGION };
}

const clients = new Map<string, unknown>();

/**
 * The process's client of `kind` for `config`'s region and endpoint, made by `make` the first time.
 * Keyed by settings too, so a test (or the CLI) that points a second config elsewhere gets its own.
 */
export function sharedClient<T>(kind: string, config: Config, make: (settings: ClientSettings) => T): T {
  const settings = clientConfig(config);
  const key = `${kind} ${settings.region} ${settings.endpoint ?? ""}`;
  let client = clients.get(key) as T | undefined;
  if (client === undefined) {
    client = make(settings);
    clients.set(key, client);
  }
  return client;
}
