/**
 * Secrets Manager reads through Powertools Parameters: one provider (and SDK client) per process, and
 * each value cached for SECRETS_MAX_AGE_SECONDS, so a warm Lambda does not call Secrets Manager on
 * every invocation and a rotated secret is picked up within that time. Values are never logged.
 */

import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Config } from "../config/env.ts";
import { sharedClient } from "./aws-clients.ts";

export class SecretError extends Error {
  override name = "SecretError";
}

function secretsProvider(config: Config): SecretsProvider {
  return sharedClient(
    "secrets-manager",
    config,
    (settings) => new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(settings) }),
  );
}

/** Reads a secret string; a JSON secret may name the field to return. Cached (see the module header). */
export async function readSecret(config: Config, secretId: string, field?: string): Promise<string> {
  const provider = secretsProvider(config);
  const maxAge = config.SECRETS_MAX_AGE_SECONDS;
  if (!field) {
    const text = await provider.get(secretId, { maxAge });
    if (typeof text !== "string" || text === "")
      throw new SecretError(`Secret ${secretId} has no string value; store it as text or JSON.`);
    return text;
  }
  let json: unknown;
  try {
    json = await provider.get(secretId, { maxAge, transform: "json" });
  } catch (error) {
    if (error instanceof Error && error.name === "TransformParameterError")
      throw new SecretError(`Secret ${secretId} is not JSON; store it as {"${field}": "..."}.`);
    throw error;
  }
  const value =
    typeof json === "object" && json !== null ? (json as Record<string, unknown>)[field] : undefined;
  if (typeof value !== "string" || value === "")
    throw new SecretError(`Secret ${secretId} lacks the "${field}" field; store it as {"${field}": "..."}.`);
  return value;
}
