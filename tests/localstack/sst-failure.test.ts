/**
 * A failed `sst` step fails the npm script, with the reason on the terminal — whether SST reports the
 * failure itself (a knob its synthesis rejects) or exits 0 over a stack CloudFormation could not
 * create (SST skips a CREATE_FAILED stack as unchanged), which `deploy:local` catches by checking
 * every stack after every `sst deploy` (assertDeployed).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  waitUntilStackCreateComplete,
} from "@aws-sdk/client-cloudformation";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertDeployed,
  clientConfig,
  createDatabaseIfMissing,
  dropDatabase,
  REPO_ROOT,
} from "../../localstack/local-cloud.ts";

const suffix = randomBytes(4).toString("hex");
const logs = new CloudWatchLogsClient(clientConfig);
const cfn = new CloudFormationClient(clientConfig);
const blocker = `/weather-ls/sst-failure-${suffix}`;
const brokenStack = `weather-ls-broken-${suffix}`;
const serverUrl = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
serverUrl.pathname = `/weather_ls_fail_${suffix}`;
const databaseUrl = serverUrl.toString();

beforeAll(async () => {
  await createDatabaseIfMissing(databaseUrl);
});

afterAll(async () => {
  await dropDatabase(databaseUrl);
  await cfn.send(new DeleteStackCommand({ StackName: brokenStack })).catch(() => {});
  await logs.send(new DeleteLogGroupCommand({ logGroupName: blocker })).catch(() => {});
});

describe("a failed sst step", () => {
  it("npm run deploy:local exits 1 with SST's reason when synthesis rejects a knob, and deploys nothing", () => {
    // Act: the heal window must be 1..92 days (stacks/settings.ts).
    const deploy = spawnSync("npm", ["run", "-s", "deploy:local"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: {
        ...process.env,
        DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres",
        WEATHER_HEAL_DAYS: "0",
      },
    });
    // Assess
    expect(deploy.status, deploy.stderr).toBe(1);
    expect(deploy.stderr).toMatch(/sst build --stage local failed \(exit 1\)/);
    expect(deploy.stderr).toMatch(/healDays must be a whole number from 1 to 92, got "0"/);
    expect(deploy.stdout).toBe("");
  }, 180_000);

  it("a stack CloudFormation could not create is reported with the failed resource and its reason", async () => {
    // Prepare: a stack whose log group already exists, as a retained log group blocks a redeploy.
    await logs.send(new CreateLogGroupCommand({ logGroupName: blocker }));
    const template = {
      Resources: { Logs: { Type: "AWS::Logs::LogGroup", Properties: { LogGroupName: blocker } } },
    };
    await cfn.send(
      new CreateStackCommand({ StackName: brokenStack, TemplateBody: JSON.stringify(template) }),
    );
    await waitUntilStackCreateComplete({ client: cfn, maxWaitTime: 60 }, { StackName: brokenStack }).catch(
      () => {},
    );
    // Act + Assess: what deploy:local runs after each `sst deploy`, whatever SST's exit code was.
    await expect(assertDeployed(brokenStack)).rejects.toThrow(
      new RegExp(
        `${brokenStack} is (CREATE_FAILED|ROLLBACK_COMPLETE); failed resources:\\n {2}Logs CREATE_FAILED: .*already exists[^]*npm run local:down && npm run local:up`,
      ),
    );
  }, 120_000);

  it("a stack that does not exist is reported too (SST can exit 0 having deployed nothing)", async () => {
    await expect(assertDeployed(`weather-ls-never-${suffix}`)).rejects.toThrow(
      /sst deploy reported no error, but stack weather-ls-never-\w+ does not exist/,
    );
  });
});
