/**
 * Synth smoke test of the SST v2 entry, the way SST v2 documents stack tests: `initProject` loads
 * sst.config.ts, then a deploy-mode App runs the stack functions and Template.fromStack synthesizes.
 * Offline: SST defers function builds and bootstrap look-ups to `sst deploy`.
 */
import { Match, Template } from "aws-cdk-lib/assertions";
import { App, getStack } from "sst/constructs";
import { initProject } from "sst/project.js";
import { beforeAll, describe, expect, it } from "vitest";
import { Data } from "../../stacks/Data.ts";
import { Pipeline } from "../../stacks/Pipeline.ts";

let data: Template;
let pipeline: Template;

beforeAll(async () => {
  await initProject({ stage: "prod" });
  const app = new App({ mode: "deploy", stage: "prod", name: "weather-dataops" });
  app.stack(Data).stack(Pipeline);
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
    pipeline.resourceCountIs("AWS::CloudWatch::Alarm", 7);
  });

  it("builds the pipeline functions with SST's Function: arm64, no X-Ray, explicit log groups, same env", () => {
    const fns = Object.values(pipeline.findResources("AWS::Lambda::Function")) as {
      Properties: Record<string, unknown>;
    }[];
    const ours = fns.filter((f) => String(f.Properties.Description ?? "").match(/^(Fetch|Build|Run)/));
    expect(ours).toHaveLength(3);
    for (const fn of ours) {
      // The runtime is set from the SST props when the deferred build runs; the CDK props carry the rest.
      expect(fn.Properties).toMatchObject({
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
});
