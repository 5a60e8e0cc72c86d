/**
 * Fine-grained assertions on the synthesized prod templates: every resource and property the
 * cloud-stacks issue asks for, plus least privilege and "no custom resources".
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALARM_RUNBOOK, EXECUTION_EXISTS_ERROR, INGEST_EVENT } from "../../stacks/constructs/stateless.ts";
import {
  actionsOf,
  one,
  PROJECT_ROOT,
  readProjectFile,
  resourcesOf,
  type Statement,
  type Synth,
  statementsOfRole,
  synth,
} from "./stacks-synth.ts";

let s: Synth;
beforeAll(async () => {
  s = await synth({ stage: "prod" });
});
afterAll(() => s?.cleanup());

const importOf = (pattern: string) => ({ "Fn::ImportValue": expect.stringMatching(pattern) });

describe("stateful stack", () => {
  it("raw bucket: SSE, public access blocked, versioned, lifecycle to cold storage, access logs", () => {
    const bucket = one(s.stateful, "AWS::S3::Bucket", "DataRawBucket");
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: "Enabled" },
      LifecycleConfiguration: {
        Rules: [
          {
            Status: "Enabled",
            Transitions: [{ StorageClass: "GLACIER_IR", TransitionInDays: 90 }],
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
          },
        ],
      },
      LoggingConfiguration: { DestinationBucketName: { Ref: expect.stringMatching(/^DataAccessLogBucket/) } },
    });
    expect(bucket.DeletionPolicy).toBe("Retain");
  });

  it("both buckets deny plain-HTTP access (TLS-only policy)", () => {
    const policies = Object.values(resourcesOf(s.stateful, "AWS::S3::BucketPolicy"));
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      expect(p.Properties?.PolicyDocument).toMatchObject({
        Statement: expect.arrayContaining([
          expect.objectContaining({
            Effect: "Deny",
            Action: "s3:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      });
    }
  });

  it("access-log bucket is private, encrypted and expires logs", () => {
    const logs = one(s.stateful, "AWS::S3::Bucket", "DataAccessLogBucket");
    expect(logs.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, Status: "Enabled" }] },
    });
  });

  it("secrets for the OpenWeatherMap key, the owner's and each function's database URL, no values in the template", () => {
    const secrets = resourcesOf(s.stateful, "AWS::SecretsManager::Secret");
    expect(Object.keys(secrets).sort()).toEqual([
      expect.stringMatching(/^DataCheckQualityDatabaseUrl/),
      expect.stringMatching(/^DataDatabaseUrl/),
      expect.stringMatching(/^DataHealDatabaseUrl/),
      expect.stringMatching(/^DataIngestDatabaseUrl/),
      expect.stringMatching(/^DataOpenWeatherApiKey/),
      expect.stringMatching(/^DataTransformDatabaseUrl/),
    ]);
    for (const secret of Object.values(secrets)) {
      expect(secret.Properties).not.toHaveProperty("SecretString");
      expect(secret.Properties).toHaveProperty("GenerateSecretString");
      expect(secret.DeletionPolicy).toBe("Retain");
    }
  });

  it("alarm topic enforces TLS and subscribes the AlarmEmail parameter only when set", () => {
    const topic = one(s.stateful, "AWS::SNS::Topic", "DataAlarmTopic");
    expect(topic.DeletionPolicy).toBe("Retain");
    s.stateful.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
    s.stateful.hasParameter("AlarmEmail", { Type: "String", Default: "" });
    const sub = one(s.stateful, "AWS::SNS::Subscription", "DataAlarmEmailSubscription");
    expect(sub.Properties).toEqual({
      TopicArn: { Ref: topic.id },
      Protocol: "email",
      Endpoint: { Ref: "AlarmEmail" },
    });
    expect(sub.Condition).toMatch(/^DataHasAlarmEmail/);
    const condition = s.stateful.toJSON().Conditions[sub.Condition as string];
    expect(condition).toEqual({ "Fn::Not": [{ "Fn::Equals": [{ Ref: "AlarmEmail" }, ""] }] });
  });

  it("holds no compute of ours and no database unless the rds flag is on", () => {
    // The one function is SST's own custom-resource handler (stacks/constructs/sst-stack.ts).
    expect(Object.keys(resourcesOf(s.stateful, "AWS::Lambda::Function"))).toEqual([
      expect.stringMatching(/^CustomResourceHandler/),
    ]);
    for (const type of ["AWS::RDS::DBInstance", "AWS::EC2::VPC"]) s.stateful.resourceCountIs(type, 0);
  });
});

describe("stateless stack: functions", () => {
  const ids = ["Ingest", "Transform", "CheckQuality", "Heal"] as const;
  const sizing = {
    Ingest: [512, 300],
    Transform: [512, 120],
    CheckQuality: [256, 60],
    Heal: [512, 600],
  } as const;

  /** SST keeps the source layout: functions/<file>.mjs, the handler beside its `sql/` directory. */
  const handlerFile = {
    Ingest: "ingest",
    Transform: "transform",
    CheckQuality: "check-quality",
    Heal: "heal",
  };

  it("exactly four functions: nodejs24.x, arm64, ESM bundle handler, sized, explicit log group", () => {
    const ours = Object.keys(resourcesOf(s.stateless, "AWS::Lambda::Function")).filter(
      (id) => !id.startsWith("CustomResourceHandler"),
    );
    expect(ours).toHaveLength(4);
    for (const id of ids) {
      const fn = one(s.stateless, "AWS::Lambda::Function", `Pipeline${id}`);
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs24.x",
        Architectures: ["arm64"],
        Handler: `functions/${handlerFile[id]}.handler`,
        MemorySize: sizing[id][0],
        Timeout: sizing[id][1],
        LoggingConfig: { LogGroup: { Ref: expect.stringMatching(new RegExp(`^Pipeline${id}Logs`)) } },
        Role: { "Fn::GetAtt": [expect.stringMatching(new RegExp(`^Pipeline${id}Role`)), "Arn"] },
      });
    }
  });

  it("log groups with the stage's retention for every function and both state machines", () => {
    const groups = Object.values(resourcesOf(s.stateless, "AWS::Logs::LogGroup"));
    expect(groups).toHaveLength(6);
    for (const g of groups) expect(g.Properties?.RetentionInDays).toBe(90);
    expect(groups.map((g) => g.Properties?.LogGroupName).sort()).toEqual([
      "/aws/lambda/weather-dataops-prod-checkquality",
      "/aws/lambda/weather-dataops-prod-heal",
      "/aws/lambda/weather-dataops-prod-ingest",
      "/aws/lambda/weather-dataops-prod-transform",
      "/aws/vendedlogs/states/weather-dataops-prod-pipeline",
      "/aws/vendedlogs/states/weather-dataops-prod-start-pipeline",
    ]);
  });

  it("environment: what core/config/env.ts reads, cross-stack references to the stateful resources", () => {
    const common = {
      DATABASE_SECRET_ARN: { Ref: undefined } as unknown,
      RAW_STORE: expect.anything(),
      WEATHER_SOURCE: "open-meteo",
      SITES_FILE: "config/sites.json",
      WEATHER_HOME: "/tmp/weather",
      ALARM_TOPIC_ARN: importOf("AlarmTopic"),
      POWERTOOLS_SERVICE_NAME: "weather-dataops-prod",
      POWERTOOLS_METRICS_NAMESPACE: "WeatherDataOps",
      // SST's own: keep-alive for the SDK, and what `sst bind` reads.
      AWS_NODEJS_CONNECTION_REUSE_ENABLED: "1",
      SST_APP: "weather-dataops",
      SST_STAGE: "prod",
      SST_SSM_PREFIX: "/sst/weather-dataops/prod/",
    };
    const ingest = one(s.stateless, "AWS::Lambda::Function", "PipelineIngest");
    expect(ingest.Properties.Environment).toEqual({
      Variables: {
        ...common,
        DATABASE_SECRET_ARN: importOf("DataIngestDatabaseUrl"),
        RAW_STORE: { "Fn::Join": ["", ["s3://", importOf("RawBucket")]] },
        OPENWEATHER_SECRET_ARN: importOf("OpenWeatherApiKey"),
        EVENT_BUS_NAME: "default",
        INGEST_SHARD_SIZE: "1000",
        INGEST_SHARD_CONCURRENCY: "4",
      },
    });
    for (const id of ["Transform", "CheckQuality", "Heal"]) {
      const fn = one(s.stateless, "AWS::Lambda::Function", `Pipeline${id}`);
      const vars = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(vars).sort()).toEqual(Object.keys(common).sort());
      expect(vars.DATABASE_SECRET_ARN).toEqual(importOf(`Data${id}DatabaseUrl`));
      expect(vars).not.toHaveProperty("AWS_ENDPOINT_URL");
    }
  });

  it("each bundle is minified ESM, carries config/sites.json and the SQL models, installs nothing", () => {
    for (const id of ids) {
      const fn = one(s.stateless, "AWS::Lambda::Function", `Pipeline${id}`);
      const dir = s.assetPath((fn.Properties.Code as { S3Key: string }).S3Key);
      const code = readFileSync(join(dir, `functions/${handlerFile[id]}.mjs`), "utf8");
      // Minified: very long lines (a readable bundle averages well under 100 characters a line).
      expect(code.length / code.split("\n").length).toBeGreaterThan(1000);
      expect(code).toContain("createRequire");
      expect(readFileSync(join(dir, "config/sites.json"), "utf8")).toBe(readProjectFile("config/sites.json"));
      // core/sql/files.ts resolves ./sql next to the bundled handler: functions/sql/… in SST's layout.
      expect(listTree(join(dir, "functions/sql/models")), id).toEqual(
        listTree(join(PROJECT_ROOT, "sql/models")),
      );
      // pg-native: SST would `npm install` it into the bundle whenever pg references it (see the factory).
      expect(existsSync(join(dir, "node_modules")), `${id}: npm-installed modules`).toBe(false);
    }
  });

  it("each bundle loads in a fresh node with no node_modules around and exports handler", () => {
    for (const id of ids) {
      const fn = one(s.stateless, "AWS::Lambda::Function", `Pipeline${id}`);
      const dir = s.assetPath((fn.Properties.Code as { S3Key: string }).S3Key);
      const out = execFileSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          "const m = await import(process.argv[1]); process.stdout.write(typeof m.handler);",
          join(dir, `functions/${handlerFile[id]}.mjs`),
        ],
        // The temp assembly dir has no node_modules above it: the AWS SDK must be in the bundle.
        { cwd: dir, env: { PATH: process.env.PATH, ...PLACEHOLDER_ENV }, encoding: "utf8" },
      );
      expect(out, id).toBe("function");
    }
  });

  it("roles: no managed policies; logs only to the function's own group", () => {
    for (const id of ids) {
      const role = one(s.stateless, "AWS::IAM::Role", `Pipeline${id}Role`);
      expect(role.Properties).not.toHaveProperty("ManagedPolicyArns");
      expect(role.Properties.AssumeRolePolicyDocument).toMatchObject({
        Statement: [{ Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
      });
      const logStatements = statementsOfRole(s.stateless, `Pipeline${id}Role`).filter((st) =>
        actionsOf(st).some((a) => a.startsWith("logs:")),
      );
      expect(logStatements).toEqual([
        expect.objectContaining({
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: { "Fn::GetAtt": [expect.stringMatching(new RegExp(`^Pipeline${id}Logs`)), "Arn"] },
        }),
      ]);
    }
  });

  it("ingest: raw bucket get/put/list, both secrets, PutEvents on the default bus; nothing else", () => {
    const st = statementsOfRole(s.stateless, "PipelineIngestRole");
    const actions = st.flatMap(actionsOf).sort();
    expect(actions).toEqual(
      [
        "events:PutEvents",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "secretsmanager:DescribeSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:GetSecretValue",
        "sns:Publish",
      ].sort(),
    );
    const put = st.find((x) => actionsOf(x).includes("events:PutEvents")) as Statement;
    expect(JSON.stringify(put.Resource)).toContain(":event-bus/default");
    const objects = st.find((x) => actionsOf(x).includes("s3:PutObject")) as Statement;
    expect(objects.Resource).toEqual({ "Fn::Join": ["", [importOf("RawBucket"), "/*"]] });
  });

  it("each function can read its own database secret and no other (its role's URL; the owner's is the operator's)", () => {
    const secretsOf = (id: string) =>
      statementsOfRole(s.stateless, `Pipeline${id}Role`)
        .filter((st) => actionsOf(st).includes("secretsmanager:GetSecretValue"))
        .map((st) => JSON.stringify(st.Resource))
        .sort();
    for (const id of ids) {
      const readable = secretsOf(id);
      // Ingest also reads the OpenWeatherMap key; nobody reads the owner's URL or another function's.
      expect(readable, id).toHaveLength(id === "Ingest" ? 2 : 1);
      expect(
        readable.filter((r) => r.includes(`Data${id}DatabaseUrl`)),
        id,
      ).toHaveLength(1);
      for (const other of ids.filter((o) => o !== id))
        expect(
          readable.some((r) => r.includes(`Data${other}DatabaseUrl`)),
          `${id} reads ${other}'s`,
        ).toBe(false);
      expect(
        readable.some((r) => /DataDatabaseUrl/.test(r)),
        `${id} reads the owner's`,
      ).toBe(false);
      if (id === "Ingest") expect(readable.some((r) => r.includes("DataOpenWeatherApiKey"))).toBe(true);
    }
  });

  it("transform and check-quality: only the database secret, the topic and their logs", () => {
    for (const id of ["Transform", "CheckQuality"]) {
      const actions = statementsOfRole(s.stateless, `Pipeline${id}Role`).flatMap(actionsOf).sort();
      expect(actions).toEqual(
        [
          "logs:CreateLogStream",
          "logs:PutLogEvents",
          "secretsmanager:DescribeSecret",
          "secretsmanager:GetSecretValue",
          "sns:Publish",
        ].sort(),
      );
    }
  });

  it("heal: put raw history objects only, the database secret, the topic and its logs", () => {
    const st = statementsOfRole(s.stateless, "PipelineHealRole");
    expect(st.flatMap(actionsOf).sort()).toEqual(
      [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:PutObject",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "sns:Publish",
      ].sort(),
    );
    const put = st.find((x) => actionsOf(x).includes("s3:PutObject")) as Statement;
    expect(put.Resource).toEqual({ "Fn::Join": ["", [importOf("RawBucket"), "/source=*/history/*"]] });
  });

  it("no wildcard actions anywhere; Resource '*' only for Step Functions log delivery", () => {
    for (const [id, policy] of Object.entries(resourcesOf(s.stateless, "AWS::IAM::Policy"))) {
      const doc = policy.Properties?.PolicyDocument as { Statement: Statement[] };
      for (const st of doc.Statement) {
        for (const action of actionsOf(st)) expect(action, `${id}: ${action}`).not.toMatch(/(^\*$|:\*$)/);
        if (st.Resource === "*") {
          expect(id, "Resource * outside a state machine role").toMatch(/^Pipeline(Workflow|Starter)Role/);
          expect(actionsOf(st).every((a) => a.startsWith("logs:"))).toBe(true);
        }
      }
    }
  });

  it("stacks are named <stage>-<app>-<Stack>, as SST names them", () => {
    expect(s.statefulStack.stackName).toBe("prod-weather-dataops-Data");
    expect(s.statelessStack.stackName).toBe("prod-weather-dataops-Pipeline");
  });

  it("no custom resources in either stack (LocalStack community deploys them as no-ops)", () => {
    for (const t of [s.stateful, s.stateless]) {
      const types = Object.values(t.toJSON().Resources as Record<string, { Type: string }>).map(
        (r) => r.Type,
      );
      expect(
        types.filter((x) => x.startsWith("Custom::") || x === "AWS::CloudFormation::CustomResource"),
      ).toEqual([]);
    }
  });
});

describe("stateless stack: schedule, events, workflow", () => {
  it("hourly cron rule starts the hour's workflow (ingest phase included) through the starter, with retries", () => {
    const rule = one(s.stateless, "AWS::Events::Rule", "PipelineIngestSchedule");
    expect(rule.Properties).toMatchObject({
      ScheduleExpression: "cron(5 * * * ? *)",
      State: "ENABLED",
      Targets: [
        {
          Arn: { Ref: expect.stringMatching(/^PipelineStarter/) },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
          InputTransformer: {
            InputPathsMap: { time: "$.time" },
            InputTemplate: '{"time":<time>,"ingest":true}',
          },
        },
      ],
    });
    // The starter derives the interval from `time` (the part before the first colon).
    const starter = one(s.stateless, "AWS::StepFunctions::StateMachine", "PipelineStarter");
    expect(JSON.stringify(starter.Properties.DefinitionString)).toContain(
      "States.ArrayGetItem(States.StringSplit($.time, ':'), 0)",
    );
  });

  it("daily heal rule targets heal with the window's days, with retries and a permission for EventBridge", () => {
    const rule = one(s.stateless, "AWS::Events::Rule", "PipelineHealSchedule");
    expect(rule.Properties).toMatchObject({
      ScheduleExpression: "cron(35 3 * * ? *)",
      State: "ENABLED",
      Targets: [
        {
          Arn: { "Fn::GetAtt": [expect.stringMatching(/^PipelineHeal/), "Arn"] },
          Input: JSON.stringify({ days: 7 }),
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        },
      ],
    });
    s.stateless.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      Principal: "events.amazonaws.com",
      SourceArn: { "Fn::GetAtt": [rule.id, "Arn"] },
    });
  });

  it("IngestionCompleted of a standalone ingest (no `shards`) on the default bus starts the starter with the event detail", () => {
    const rule = one(s.stateless, "AWS::Events::Rule", "PipelineIngestionCompletedRule");
    expect(rule.Properties).toMatchObject({
      EventPattern: {
        source: [INGEST_EVENT.source],
        "detail-type": [INGEST_EVENT.detailType],
        detail: { shards: [{ exists: false }] },
      },
      Targets: [
        {
          Arn: { Ref: expect.stringMatching(/^PipelineStarter/) },
          InputPath: "$.detail",
          RoleArn: expect.anything(),
        },
      ],
    });
    expect(rule.Properties).not.toHaveProperty("EventBusName");
  });

  it("pipeline state machine: the ASL file inline (with the stage's time limits) and exactly its substitutions", () => {
    const sm = one(s.stateless, "AWS::StepFunctions::StateMachine", "PipelineWorkflow");
    expect(sm.Properties).not.toHaveProperty("DefinitionS3Location");
    expect(sm.Properties).toMatchObject({
      StateMachineName: "weather-dataops-prod-pipeline",
      StateMachineType: "STANDARD",
      DefinitionString: expect.stringContaining('"StartAt": "Route"'),
      DefinitionSubstitutions: {
        IngestFunctionArn: { "Fn::GetAtt": [expect.stringMatching(/^PipelineIngest/), "Arn"] },
        TransformFunctionArn: { "Fn::GetAtt": [expect.stringMatching(/^PipelineTransform/), "Arn"] },
        CheckQualityFunctionArn: { "Fn::GetAtt": [expect.stringMatching(/^PipelineCheckQuality/), "Arn"] },
        NotifyTopicArn: importOf("AlarmTopic"),
      },
      LoggingConfiguration: { Level: "ALL", IncludeExecutionData: true },
    });
    expect(Object.keys(sm.Properties.DefinitionSubstitutions as object).sort()).toEqual([
      "CheckQualityFunctionArn",
      "IngestFunctionArn",
      "NotifyTopicArn",
      "TransformFunctionArn",
    ]);
  });

  it("pipeline role may invoke the three task functions, read manifests, run its own Map children and publish to the topic, nothing more", () => {
    const st = statementsOfRole(s.stateless, "PipelineWorkflowRole");
    const invoke = st.filter((x) => actionsOf(x).includes("lambda:InvokeFunction"));
    expect(JSON.stringify(invoke)).toMatch(/PipelineIngest/);
    expect(JSON.stringify(invoke)).toMatch(/PipelineTransform/);
    expect(JSON.stringify(invoke)).toMatch(/PipelineCheckQuality/);
    expect(JSON.stringify(invoke)).not.toMatch(/PipelineHeal/);
    expect(st.filter((x) => actionsOf(x).includes("sns:Publish"))).toEqual([
      expect.objectContaining({ Resource: importOf("AlarmTopic") }),
    ]);
    // The ItemReader reads shard manifests only, not the raw objects.
    const read = st.filter((x) => actionsOf(x).includes("s3:GetObject"));
    expect(read).toHaveLength(1);
    expect(JSON.stringify(read[0]?.Resource)).toContain("/source=*/manifests/*");
    // Child executions of this machine only.
    const start = st.find((x) => actionsOf(x).includes("states:StartExecution")) as Statement;
    expect(JSON.stringify(start.Resource)).toContain(":stateMachine:weather-dataops-prod-pipeline");
    const describe_ = st.find((x) => actionsOf(x).includes("states:DescribeExecution")) as Statement;
    expect(JSON.stringify(describe_.Resource)).toContain(":execution:weather-dataops-prod-pipeline/*");
    const nonLog = st.flatMap(actionsOf).filter((a) => !a.startsWith("logs:"));
    expect(new Set(nonLog)).toEqual(
      new Set([
        "lambda:InvokeFunction",
        "sns:Publish",
        "s3:GetObject",
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
      ]),
    );
  });

  it("starter names the execution after the interval and treats a duplicate as a no-op", () => {
    const starter = one(s.stateless, "AWS::StepFunctions::StateMachine", "PipelineStarter");
    const definition = JSON.stringify(starter.Properties.DefinitionString);
    expect(definition).toContain("arn:");
    expect(definition).toContain(":states:::states:startExecution");
    expect(definition).toContain('\\"Name.$\\":\\"$.interval\\"');
    expect(definition).toContain(EXECUTION_EXISTS_ERROR);
    const actions = statementsOfRole(s.stateless, "PipelineStarterRole")
      .flatMap(actionsOf)
      .filter((a) => !a.startsWith("logs:"));
    expect(actions).toEqual(["states:StartExecution"]);
    const start = statementsOfRole(s.stateless, "PipelineStarterRole").find((x) =>
      actionsOf(x).includes("states:StartExecution"),
    ) as Statement;
    expect(start.Resource).toEqual({ Ref: expect.stringMatching(/^PipelineWorkflow/) });
  });
});

describe("stateless stack: alarms", () => {
  const alarm = (prefix: string) => one(s.stateless, "AWS::CloudWatch::Alarm", prefix).Properties;
  const notifies = {
    AlarmActions: [importOf("AlarmTopic")],
    OKActions: [importOf("AlarmTopic")],
    ActionsEnabled: true,
  };
  const custom = {
    Namespace: "WeatherDataOps",
    Dimensions: [{ Name: "service", Value: "weather-dataops-prod" }],
  };

  it("state machine ExecutionsFailed >= 1", () => {
    expect(alarm("PipelinePipelineFailedAlarm")).toMatchObject({
      ...notifies,
      Namespace: "AWS/States",
      MetricName: "ExecutionsFailed",
      Dimensions: [{ Name: "StateMachineArn", Value: { Ref: expect.stringMatching(/^PipelineWorkflow/) } }],
      Statistic: "Sum",
      Period: 300,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
    });
  });

  it("starter ExecutionsFailed >= 1 (the pipeline could not be started)", () => {
    expect(alarm("PipelinePipelineStartFailedAlarm")).toMatchObject({
      ...notifies,
      MetricName: "ExecutionsFailed",
      Dimensions: [{ Name: "StateMachineArn", Value: { Ref: expect.stringMatching(/^PipelineStarter/) } }],
      Threshold: 1,
    });
  });

  it("ingest Errors >= 1", () => {
    expect(alarm("PipelineIngestErrorsAlarm")).toMatchObject({
      ...notifies,
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: expect.stringMatching(/^PipelineIngest/) } }],
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
  });

  it("SiteFailureRatio > 10 % (published in percent, worst run in the period)", () => {
    expect(alarm("PipelineSiteFailureRatioAlarm")).toMatchObject({
      ...notifies,
      ...custom,
      MetricName: "SiteFailureRatio",
      Statistic: "Maximum",
      Threshold: 10,
      ComparisonOperator: "GreaterThanThreshold",
      TreatMissingData: "notBreaching",
    });
  });

  it("average FetchLatencyMs > 30 s", () => {
    expect(alarm("PipelineFetchLatencyAlarm")).toMatchObject({
      ...notifies,
      ...custom,
      MetricName: "FetchLatencyMs",
      Statistic: "Average",
      Threshold: 30_000,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  it("no ObservationsLoaded for 2 h fires even when nothing reports (missing data breaches)", () => {
    expect(alarm("PipelineNoObservationsAlarm")).toMatchObject({
      ...notifies,
      ...custom,
      MetricName: "ObservationsLoaded",
      Statistic: "Sum",
      Period: 3600,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
  });

  it("DbErrors >= 1", () => {
    expect(alarm("PipelineDbErrorsAlarm")).toMatchObject({
      ...notifies,
      ...custom,
      MetricName: "DbErrors",
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
  });

  it("pipeline ExecutionsTimedOut >= 1 (no Catch runs after an execution's own time limit)", () => {
    expect(alarm("PipelinePipelineTimedOutAlarm")).toMatchObject({
      ...notifies,
      Namespace: "AWS/States",
      MetricName: "ExecutionsTimedOut",
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
  });

  it("StepRetries >= 3 in an hour (retries that healed, but keep happening)", () => {
    expect(alarm("PipelineStepRetriesAlarm")).toMatchObject({
      ...notifies,
      ...custom,
      MetricName: "StepRetries",
      Statistic: "Sum",
      Period: 3600,
      Threshold: 3,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
    });
  });

  it("GapsRemaining > 0 over the heal's daily cadence (gaps survived the last heal)", () => {
    expect(alarm("PipelineGapsRemainingAlarm")).toMatchObject({
      ...notifies,
      ...custom,
      MetricName: "GapsRemaining",
      Statistic: "Maximum",
      Period: 86_400,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
    });
  });

  it("heal Errors >= 1 (a heal that threw reported no GapsRemaining)", () => {
    expect(alarm("PipelineHealErrorsAlarm")).toMatchObject({
      ...notifies,
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: expect.stringMatching(/^PipelineHeal/) } }],
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
  });

  it("every alarm is named after, and links to, its runbook section", () => {
    const runbook = readProjectFile("docs/runbook.md");
    const anchors = [...runbook.matchAll(/^## ([a-z0-9-]+)\s*$/gm)].map((m) => m[1]);
    const alarms = Object.values(resourcesOf(s.stateless, "AWS::CloudWatch::Alarm"));
    expect(alarms).toHaveLength(Object.keys(ALARM_RUNBOOK).length);
    for (const a of alarms) {
      const name = a.Properties?.AlarmName as string;
      const anchor = name.replace(/^weather-dataops-prod-/, "");
      expect(anchors, `runbook section for ${name}`).toContain(anchor);
      expect(a.Properties?.AlarmDescription).toContain(`docs/runbook.md#${anchor}`);
    }
  });
});

/** Placeholder values for what the stack sets: enough for the env gate to pass at module load. */
const PLACEHOLDER_ENV = {
  AWS_REGION: "us-east-1",
  DATABASE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
  OPENWEATHER_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:owm",
  RAW_STORE: "s3://test-raw",
  SITES_FILE: "config/sites.json",
  WEATHER_HOME: "/tmp/weather",
  EVENT_BUS_NAME: "default",
  POWERTOOLS_SERVICE_NAME: "weather-dataops-test",
};

/** Relative paths of every file under `dir`, sorted. */
function listTree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}
