/** AWS clients built from the config, once per container; the endpoint override serves LocalStack. */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Config } from "../config/env.ts";

function clientConfig(config: Config) {
  return config.AWS_ENDPOINT_URL
    ? { region: config.AWS_REGION, endpoint: config.AWS_ENDPOINT_URL }
    : { region: config.AWS_REGION };
}

export function s3Client(config: Config): S3Client {
  // LocalStack serves buckets by path, not by virtual host.
  return new S3Client({ ...clientConfig(config), forcePathStyle: Boolean(config.AWS_ENDPOINT_URL) });
}

export class SecretError extends Error {
  override name = "SecretError";
}

/** Reads a secret string; JSON secrets may name a field. Values are never logged. */
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

export interface EventPublisher {
  ingestionCompleted(detail: { interval: string; runId: string; status: string }): Promise<void>;
}

export const INGEST_EVENT_SOURCE = "weather-dataops.ingest";

export function eventBridgePublisher(config: Config, busName: string): EventPublisher {
  const client = new EventBridgeClient(clientConfig(config));
  return {
    async ingestionCompleted(detail) {
      const out = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: busName,
              Source: INGEST_EVENT_SOURCE,
              DetailType: "IngestionCompleted",
              Detail: JSON.stringify(detail),
            },
          ],
        }),
      );
      if (out.FailedEntryCount)
        throw new Error(`EventBridge rejected IngestionCompleted: ${JSON.stringify(out.Entries)}`);
    },
  };
}
