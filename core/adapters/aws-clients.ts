/**
 * AWS client settings from the config: region, and the endpoint override that serves LocalStack.
 * Each client lives in its own adapter module, so a handler bundles only the clients it uses.
 */
import type { Config } from "../config/env.ts";

export function clientConfig(config: Config): { region: string; endpoint?: string } {
  return config.AWS_ENDPOINT_URL
    ? { region: config.AWS_REGION, endpoint: config.AWS_ENDPOINT_URL }
    : { region: config.AWS_REGION };
}
