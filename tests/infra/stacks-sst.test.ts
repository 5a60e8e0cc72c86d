/**
 * Synth smoke test of the SST v2 entry, the way SST v2 documents stack tests: `initProject` loads
 * sst.config.ts, then a deploy-mode App runs the stack functions and Template.fromStack synthesizes.
 * `app.finish()` also runs SST's own function builds (offline: under NODE_ENV=test SST skips the
 * bootstrap look-up), so the bundles `sst deploy` would upload are loaded in a fresh `node` here.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Match, Template } from "aws-cdk-lib/assertions";
import { App, getStack } from "sst/constructs";
import { initProject } from "sst/project.js";
import { beforeAll, describe, expect, it } from "vitest";
import { ALARM_KEYS } from "../../stacks/constructs/stateless.ts";
import { Data } from "../../stacks/Data.ts";
import { Pipeline } from "../../stacks/Pipeline.ts";

let data: Template;
let pipeline: Template;
let outdir: string;

beforeAll(async () => {
  await initProject({ stage: "prod" });
  const app = new App({ mode: "deploy", stage: "prod", name: "weather-dataops" });
  app.stack(Data).stack(Pipeline);
  await app.finish();
  outdir = app.outdir;
  data = Template.fromStack(getStack(Data));
  pipeline = Template.fromStack(getStack(Pipeline));
});

describe("SST v2 app (sst.config.ts)", () => {
  it("names stacks <stage>-<app>-<Stack> and keeps stateful and stateless apart", () => {
    expect(getStack(Data).stackName).toBe("prod-weather-dataops-Data");
    expect(getStack(Pipeline).stackName).toBe("prod-weather-dataops-Pipeline");
    data.resourceCountIs("AWS::S3::Bucket", 2);
    data.resourceCountIs("AWS::SecretsManager::Secret", 2);
    data.resourceCountIs("AWS::SNS::Topic", 1);
    // SST's default removal policy is left alone: data survives `sst remove` on prod.
    data.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain" });
    pipeline.resourceCountIs("AWS::S3::Bucket", 0);
    pipeline.resourceCountIs("AWS::StepFunctions::StateMachine", 2);
    pipeline.resourceCountIs("AWS::CloudWatch::Alarm", ALARM_KEYS.length);
  });

  it("builds the pipeline functions with SST's Function: nodejs24.x, arm64, no X-Ray, explicit log groups, same env", () => {
    const fns = Object.values(pipeline.findResources("AWS::Lambda::Function")) as {
      Properties: Record<string, unknown>;
    }[];
    const ours = fns.filter((f) => String(f.Properties.Description ?? "").match(/^(Fetch|Build|Run)/));
    expect(ours).toHaveLength(4);
    for (const fn of ours) {
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs24.x",
        Handler: expect.stringMatching(/^functions\/(ingest|transform|check-quality|heal)\.handler$/),
        Architectures: ["arm64"],
        LoggingConfig: { LogGroup: expect.anything() },
      });
      expect(fn.Properties).not.toHaveProperty("TracingConfig.Mode", "Active");
      expect(fn.Properties.Environment).toMatchObject({
        Variables: { POWERTOOLS_SERVICE_NAME: "weather-dataops-prod", SITES_FILE: "sites.json" },
      });
    }
  });

  it("uses the same workflow and alarms as the plain CDK app", () => {
    pipeline.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      StateMachineName: "weather-dataops-prod-pipeline",
      DefinitionSubstitutions: {
        TransformFunctionArn: Match.anyValue(),
        CheckQualityFunctionArn: Match.anyValue(),
        NotifyTopicArn: Match.anyValue(),
      },
    });
    pipeline.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ObservationsLoaded",
      TreatMissingData: "breaching",
    });
  });

  it("SST's bundles load in a fresh node, carry sites.json and install nothing (pg-native stays out)", () => {
    const fns = Object.values(pipeline.findResources("AWS::Lambda::Function")) as {
      Properties: { Handler: string; Code: { S3Key: string } };
    }[];
    const ours = fns.filter((f) => f.Properties.Handler.startsWith("functions/"));
    expect(ours).toHaveLength(4);
    for (const fn of ours) {
      const dir = join(outdir, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, "")}`);
      expect(existsSync(join(dir, "sites.json")), `${fn.Properties.Handler}: sites.json`).toBe(true);
      // core/sql/files.ts resolves ./sql next to the handler file: functions/sql/… in SST's layout.
      for (const sub of ["models"]) {
        expect(existsSync(join(dir, "functions", "sql", sub)), `${fn.Properties.Handler}: sql/${sub}`).toBe(
          true,
        );
      }
      expect(existsSync(join(dir, "node_modules")), `${fn.Properties.Handler}: npm-installed modules`).toBe(
        false,
      );
      const file = join(dir, `${fn.Properties.Handler.replace(/\.handler$/, "")}.mjs`);
      const out = execFileSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          "const m = await import(process.argv[1]); process.stdout.write(typeof m.handler);",
          file,
        ],
        { cwd: dir, env: { PATH: process.env.PATH, ...FUNCTION_ENV }, encoding: "utf8" },
      );
      expect(out).toBe("function");
    }
  });
});

/** Placeholder values for what the stack sets: enough for the env gate to pass at module load. */
const FUNCTION_ENV = {
  AWS_REGION: "us-east-1",
  DATABASE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
  OPENWEATHER_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:owm",
  RAW_STORE: "s3://test-raw",
  SITES_FILE: "sites.json",
  WEATHER_HOME: "/tmp/weather",
  EVENT_BUS_NAME: "default",
  POWERTOOLS_SERVICE_NAME: "weather-dataops-test",
};
