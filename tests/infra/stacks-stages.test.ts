/**
 * Stage settings reach the templates: the `local` stage (LocalStack: one-minute schedule, short alarm
 * periods, endpoint override, disposable data) and the optional RDS Postgres behind the `rds` flag.
 */
import { App } from "aws-cdk-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALARM_KEYS } from "../../stacks/constructs/stateless.ts";
import { settingsFor, settingsFromContext, UnknownStageError } from "../../stacks/settings.ts";
import { one, resourcesOf, type Synth, statementsOfRole, synth } from "./stacks-synth.ts";

describe("stage settings", () => {
  it("known stages have their own presets; personal stages get dev's under their own name", () => {
    expect(settingsFor("prod").schedule).toBe("cron(5 * * * ? *)");
    expect(settingsFor("local").schedule).toBe("rate(1 minute)");
    const alice = settingsFor("alice");
    expect(alice).toMatchObject({ stage: "alice", serviceName: "weather-dataops-alice" });
    expect(alice.logRetention).toBe(settingsFor("dev").logRetention);
  });

  it("rejects a stage name that cannot prefix AWS resource names", () => {
    expect(() => settingsFor("my stage")).toThrow(UnknownStageError);
  });

  it("reads the rds and alarmEmail flags from CDK context, as both entries pass them", () => {
    const app = new App({ context: { rds: "true", alarmEmail: "ops@example.com" } });
    expect(settingsFromContext("prod", app.node)).toMatchObject({ rds: true, alarmEmail: "ops@example.com" });
    expect(settingsFromContext("prod", new App().node)).toMatchObject({ rds: false, alarmEmail: "" });
  });

  it("takes extra function variables as a JSON object of strings and rejects anything else", () => {
    const app = new App({ context: { functionEnv: '{"OPEN_METEO_BASE_URL":"http://127.0.0.1:8787"}' } });
    expect(settingsFromContext("local", app.node).functionEnv).toEqual({
      OPEN_METEO_BASE_URL: "http://127.0.0.1:8787",
    });
    const bad = new App({ context: { functionEnv: '{"PORT": 8787}' } });
    expect(() => settingsFromContext("local", bad.node)).toThrow(UnknownStageError);
  });
});

describe("heal schedule", () => {
  it("is daily over 7 days on every stage, the local one included", () => {
    for (const stage of ["prod", "dev", "local", "alice"])
      expect(settingsFor(stage).heal).toEqual({ schedule: "cron(35 3 * * ? *)", days: 7 });
  });

  it("takes healSchedule and healDays from CDK context (the LocalStack suite's one-minute heal)", async () => {
    const app = new App({ context: { healSchedule: "rate(1 minute)", healDays: "1" } });
    expect(settingsFromContext("local", app.node).heal).toEqual({ schedule: "rate(1 minute)", days: 1 });
    const s = await synth({ stage: "local", context: { healSchedule: "rate(1 minute)", healDays: "1" } });
    try {
      expect(one(s.stateless, "AWS::Events::Rule", "PipelineHealSchedule").Properties).toMatchObject({
        ScheduleExpression: "rate(1 minute)",
        Targets: [{ Input: '{"days":1}' }],
      });
    } finally {
      s.cleanup();
    }
  });

  it.each([
    ["healSchedule", "every minute"],
    ["healDays", "0"],
    ["healDays", "93"],
    ["healDays", "1.5"],
  ])("rejects %s = %s", (key, value) => {
    expect(() => settingsFromContext("local", new App({ context: { [key]: value } }).node)).toThrow(
      UnknownStageError,
    );
  });
});

describe("local stage (LocalStack)", () => {
  let s: Synth;
  beforeAll(async () => {
    s = await synth({
      stage: "local",
      context: {
        alarmEmail: "ops@example.com",
        functionEnv: JSON.stringify({ OPEN_METEO_BASE_URL: "http://127.0.0.1:8787" }),
      },
    });
  });
  afterAll(() => s?.cleanup());

  it("ingest runs every minute", () => {
    const rule = one(s.stateless, "AWS::Events::Rule", "PipelineIngestSchedule");
    expect(rule.Properties.ScheduleExpression).toBe("rate(1 minute)");
  });

  it("alarms evaluate one-minute periods; no-data fires after 3 empty minutes", () => {
    const alarms = Object.values(resourcesOf(s.stateless, "AWS::CloudWatch::Alarm"));
    expect(alarms).toHaveLength(ALARM_KEYS.length);
    for (const a of alarms) expect(a.Properties?.Period).toBe(60);
    expect(
      one(s.stateless, "AWS::CloudWatch::Alarm", "PipelineNoObservationsAlarm").Properties,
    ).toMatchObject({
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: "breaching",
      Dimensions: [{ Name: "service", Value: "weather-dataops-local" }],
    });
  });

  it("functions target LocalStack and the simulator", () => {
    for (const id of ["Ingest", "Transform", "CheckQuality", "Heal"]) {
      const vars = (
        one(s.stateless, "AWS::Lambda::Function", `Pipeline${id}`).Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
      expect(vars).toMatchObject({
        AWS_ENDPOINT_URL: "http://127.0.0.1:4566",
        OPEN_METEO_BASE_URL: "http://127.0.0.1:8787",
        WEATHER_SOURCE: "simulator",
        POWERTOOLS_SERVICE_NAME: "weather-dataops-local",
      });
    }
  });

  it("short log retention and disposable stateful resources", () => {
    for (const g of Object.values(resourcesOf(s.stateless, "AWS::Logs::LogGroup"))) {
      expect(g.Properties?.RetentionInDays).toBe(1);
    }
    for (const type of ["AWS::S3::Bucket", "AWS::SecretsManager::Secret", "AWS::SNS::Topic"]) {
      for (const r of Object.values(resourcesOf(s.stateful, type))) expect(r.DeletionPolicy).toBe("Delete");
    }
  });

  it("the alarmEmail override becomes the parameter default", () => {
    s.stateful.hasParameter("AlarmEmail", { Default: "ops@example.com" });
  });
});

describe("optional RDS Postgres (rds flag)", () => {
  let s: Synth;
  beforeAll(async () => {
    s = await synth({ stage: "prod", context: { rds: "true" } });
  });
  afterAll(() => s?.cleanup());

  it("a small encrypted private Postgres with backups and deletion protection", () => {
    const db = one(s.stateful, "AWS::RDS::DBInstance", "DataDatabase");
    expect(db.Properties).toMatchObject({
      Engine: "postgres",
      DBInstanceClass: "db.t4g.micro",
      AllocatedStorage: "20",
      StorageType: "gp3",
      StorageEncrypted: true,
      MultiAZ: false,
      PubliclyAccessible: false,
      BackupRetentionPeriod: 7,
      DeletionProtection: true,
      DBName: "weather",
    });
    expect(db.DeletionPolicy).toBe("Snapshot");
  });

  it("only the functions' security group reaches port 5432", () => {
    const ingress = Object.values(resourcesOf(s.stateful, "AWS::EC2::SecurityGroupIngress"));
    expect(ingress).toHaveLength(1);
    expect(ingress[0]?.Properties).toMatchObject({
      IpProtocol: "tcp",
      FromPort: 5432,
      ToPort: 5432,
      SourceSecurityGroupId: { "Fn::GetAtt": [expect.stringMatching(/^DataDatabaseClientSg/), "GroupId"] },
    });
    s.stateful.resourceCountIs("AWS::EC2::NatGateway", 1);
  });

  it("the functions' URL secret is derived from the RDS secret at deploy time (no password in the template)", () => {
    const secret = one(s.stateful, "AWS::SecretsManager::Secret", "DataDatabaseUrl");
    const text = JSON.stringify(secret.Properties.SecretString);
    expect(text).toContain("{{resolve:secretsmanager:");
    expect(text).toContain("SecretString:password");
    expect(text).toContain("/weather?sslmode=no-verify");
  });

  it("each function's URL secret carries its role and a generated password, resolved at deploy", () => {
    const roles = {
      Ingest: "weather_ingest",
      Transform: "weather_transform",
      CheckQuality: "weather_checks",
      Heal: "weather_heal",
    };
    for (const [id, role] of Object.entries(roles)) {
      const text = JSON.stringify(
        one(s.stateful, "AWS::SecretsManager::Secret", `Data${id}DatabaseUrl`).Properties.SecretString,
      );
      expect(text).toContain(`postgres://${role}:`);
      expect(text).toContain("{{resolve:secretsmanager:");
      expect(text).toContain(`Data${id}DatabaseRole`);
      const credentials = one(s.stateful, "AWS::SecretsManager::Secret", `Data${id}DatabaseRole`);
      expect(credentials.Properties.GenerateSecretString).toMatchObject({
        SecretStringTemplate: JSON.stringify({ username: role }),
        GenerateStringKey: "password",
      });
    }
  });

  it("functions run in the private subnets with the client security group", () => {
    for (const id of ["Ingest", "Transform", "CheckQuality", "Heal"]) {
      const fn = one(s.stateless, "AWS::Lambda::Function", `Pipeline${id}`);
      expect(fn.Properties.VpcConfig).toMatchObject({
        SecurityGroupIds: [{ "Fn::ImportValue": expect.stringMatching(/DatabaseClientSg/) }],
        SubnetIds: [
          { "Fn::ImportValue": expect.stringMatching(/appSubnet1/) },
          { "Fn::ImportValue": expect.stringMatching(/appSubnet2/) },
        ],
      });
      const role = one(s.stateless, "AWS::IAM::Role", `Pipeline${id}Role`);
      expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain("AWSLambdaVPCAccessExecutionRole");
      expect(statementsOfRole(s.stateless, `Pipeline${id}Role`).length).toBeGreaterThan(0);
    }
  });

  it("still no custom resources (no restrict-default-SG lambda)", () => {
    const types = Object.values(s.stateful.toJSON().Resources as Record<string, { Type: string }>).map(
      (r) => r.Type,
    );
    expect(types.filter((t) => t.startsWith("Custom::"))).toEqual([]);
    // The one function is SST's own custom-resource handler (stacks/constructs/sst-stack.ts).
    expect(Object.keys(resourcesOf(s.stateful, "AWS::Lambda::Function"))).toEqual([
      expect.stringMatching(/^CustomResourceHandler/),
    ]);
  });
});
