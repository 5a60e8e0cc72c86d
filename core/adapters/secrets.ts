/** Secrets Manager reads. Values are never logged. */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Config } from "../config/env.ts";
import { clientConfig } from "./aws-clients.ts";

export class SecretError extends Error {
  override name = "SecretError";
}

/** Reads a secret string; JSON secrets may name a field. */
export async function readSecret(config: Config, secretId: string, field?: string): Promise<string> {
  const client = new SecretsManagerClient(clientConfig(config));
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  const text = out.SecretString;
  if (!text) throw new SecretError(`Secret ${secretId} has no string value; store it as text or JSON.`);
  if (!field) return text;
  let value: unknown;
  try {
    value = (JSON.parse(text) as Record<string, unknown>)[field];
  } catch {
    throw new SecretError(`Secret ${secretId} is not JSON; store it as {"${field}": "..."}.`);
  }
  if (typeof value !== "string" || value === "")
    throw new SecretError(`Secret ${secretId} lacks the "${field}" field; store it as {"${field}": "..."}.`);
  return value;
}
