import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { STATE_DIR } from "../../../localstack/sst-dev.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const localstackDir = path.join(repoRoot, "localstack");
/** Where start.sh keeps LocalStack's pid, log and certificate (the one definition: localstack/sst-dev.ts). */
export const stateDir = STATE_DIR;
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
