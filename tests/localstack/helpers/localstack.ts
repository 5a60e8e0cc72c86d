import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const localstackDir = path.join(repoRoot, "localstack");
export const stateDir = process.env.LOCALSTACK_STATE_DIR ?? path.join(repoRoot, ".weather/localstack");
export const endpoint = `http://127.0.0.1:${process.env.LOCALSTACK_PORT ?? "4566"}`;

/** Client settings for LocalStack: fake credentials, one region, loopback endpoint. */
export const clientConfig = {
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
};

let venvDir: string | undefined;

/**
 * Runs the AWS CLI of the pinned LocalStack venv against LocalStack and parses its JSON output. Used for
 * the services whose SDK v3 clients are not dependencies of the project (CloudWatch, CloudWatch Logs).
 */
export function awsCli(args: string[]): unknown {
  venvDir ??= execFileSync(
    path.join(repoRoot, "scripts/venv.sh"),
    ["localstack", path.join(localstackDir, "requirements.txt")],
    { encoding: "utf8" },
  ).trim();
  const out = execFileSync(
    path.join(venvDir, "bin/aws"),
    ["--endpoint-url", endpoint, "--region", clientConfig.region, "--output", "json", ...args],
    {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
      },
    },
  );
  return out.trim() ? JSON.parse(out) : undefined;
}
