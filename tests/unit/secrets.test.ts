/**
 * Secret reads through Powertools Parameters, against a loopback server that speaks Secrets Manager's
 * JSON protocol (AWS itself is out of reach here; the LocalStack suite reads real secrets): the value
 * is cached for SECRETS_MAX_AGE_SECONDS, JSON fields are picked, and bad secrets say what to store.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { readSecret, SecretError } from "#core/adapters/secrets.ts";
import { loadConfig } from "#core/config/env.ts";

const secrets: Record<string, string> = {
  "owm-key": "k3y-value",
  db: JSON.stringify({ url: "postgres://app@db.example:5432/weather" }),
  "not-json": "plain text",
  "no-field": JSON.stringify({ other: "x" }),
};
let server: Server;
let endpoint: string;
let calls: string[] = [];

beforeAll(async () => {
  // The SDK's default credential chain reads these; no real AWS is contacted.
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"]);
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      calls.push(`${target} ${SecretId}`);
      const value = secrets[SecretId];
      res.setHeader("content-type", "application/x-amz-json-1.1");
      if (target !== "secretsmanager.GetSecretValue" || value === undefined) {
        res.statusCode = 400;
        res.end(
          JSON.stringify({
            __type: "ResourceNotFoundException",
            message: "Secrets Manager can't find the specified secret.",
          }),
        );
        return;
      }
      res.end(
        JSON.stringify({
          ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${SecretId}`,
          Name: SecretId,
          SecretString: value,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  calls = [];
});

const env = { AWS_REGION: "us-east-1" };
/** A distinct endpoint path per test keeps each test's provider (and cache) its own. */
const configFor = (maxAge: string, path: string) =>
  loadConfig({ AWS_ENDPOINT_URL: `${endpoint}/${path}`, SECRETS_MAX_AGE_SECONDS: maxAge }, env);

describe("readSecret (Powertools Parameters)", () => {
  it("reads a secret once per SECRETS_MAX_AGE_SECONDS, not once per call", async () => {
    // Prepare
    const config = configFor("300", "cached");
    // Act
    const values = [
      await readSecret(config, "owm-key"),
      await readSecret(config, "owm-key"),
      await readSecret(config, "owm-key"),
    ];
    // Assess
    expect(values).toEqual(["k3y-value", "k3y-value", "k3y-value"]);
    expect(calls).toEqual(["secretsmanager.GetSecretValue owm-key"]);
  });

  it("reads again every time when the max age is 0", async () => {
    const config = configFor("0", "uncached");
    await readSecret(config, "owm-key");
    await readSecret(config, "owm-key");
    expect(calls).toHaveLength(2);
  });

  it("picks a field of a JSON secret", async () => {
    const config = configFor("300", "json");
    expect(await readSecret(config, "db", "url")).toBe("postgres://app@db.example:5432/weather");
    expect(await readSecret(config, "db", "url")).toBe("postgres://app@db.example:5432/weather");
    expect(calls).toHaveLength(1);
  });

  it("says what to store when the secret is not JSON or lacks the field", async () => {
    const config = configFor("300", "bad");
    await expect(readSecret(config, "not-json", "url")).rejects.toThrow(
      new SecretError('Secret not-json is not JSON; store it as {"url": "..."}.'),
    );
    await expect(readSecret(config, "no-field", "url")).rejects.toThrow(/lacks the "url" field/);
  });

  it("surfaces a missing secret with the service's message", async () => {
    const config = configFor("300", "missing");
    await expect(readSecret(config, "nope")).rejects.toThrow(/can't find the specified secret/);
  });
});
