/**
 * Everything that holds data or identity: the raw bucket (plus its access-log bucket), the secrets,
 * the alarm topic and, behind a flag, an RDS Postgres. It lives in its own stack so a compute
 * redeploy can never replace data.
 */
import {
  CfnCondition,
  CfnParameter,
  type CfnResource,
  Duration,
  Fn,
  RemovalPolicy,
  SecretValue,
  Stack,
} from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as rds from "aws-cdk-lib/aws-rds";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import type { StageSettings } from "../settings.ts";

export interface StatefulProps {
  settings: StageSettings;
}

/**
 * The database role each function connects as (sql/migrations/0080_function_roles.sql), by function
 * id (stacks/constructs/stateless.ts FUNCTIONS).
 */
export const FUNCTION_DATABASE_ROLES = {
  Ingest: "weather_ingest",
  Transform: "weather_transform",
  CheckQuality: "weather_checks",
  Heal: "weather_heal",
} as const;
export type FunctionId = keyof typeof FUNCTION_DATABASE_ROLES;
const FUNCTION_IDS = Object.keys(FUNCTION_DATABASE_ROLES) as FunctionId[];

/** What the stateless side needs from the stateful side. */
export interface StatefulRefs {
  rawBucket: s3.IBucket;
  /** The migration owner's URL: for `weather migrate` by the operator; no function reads it. */
  databaseSecret: secretsmanager.ISecret;
  /** Each function's own URL secret, `{"url": ...}` with its role (FUNCTION_DATABASE_ROLES). */
  functionDatabaseSecrets: Record<FunctionId, secretsmanager.ISecret>;
  openWeatherSecret: secretsmanager.ISecret;
  alarmTopic: sns.ITopic;
  /** Set only with `rds: true`: functions must join this VPC and security group to reach the DB. */
  network?: { vpc: ec2.IVpc; databaseClientSecurityGroup: ec2.ISecurityGroup };
}

export const DATABASE_NAME = "weather";

/** Per-resource checkov waivers, kept in the template next to the resource they excuse. */
export function skipCheckov(construct: Construct, checks: { id: string; comment: string }[]): void {
  const resource = construct.node.defaultChild as CfnResource;
  resource.addMetadata("checkov", { skip: checks });
}

export class StatefulResources extends Construct implements StatefulRefs {
  readonly rawBucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly databaseSecret: secretsmanager.ISecret;
  readonly functionDatabaseSecrets: Record<FunctionId, secretsmanager.ISecret>;
  readonly openWeatherSecret: secretsmanager.Secret;
  readonly alarmTopic: sns.Topic;
  readonly alarmEmail: CfnParameter;
  readonly network?: { vpc: ec2.Vpc; databaseClientSecurityGroup: ec2.SecurityGroup };
  readonly database?: rds.DatabaseInstance;

  constructor(scope: Construct, id: string, { settings }: StatefulProps) {
    super(scope, id);
    // Set here, not in cdk.json, so the SST app, the plain app and tests all synthesize the same:
    // access logs are delivered under a bucket policy instead of a legacy ACL.
    this.node.setContext("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", true);
    const removalPolicy = settings.statefulRemovalPolicy;

    this.accessLogBucket = new s3.Bucket(this, "AccessLogBucket", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(90) }],
      removalPolicy,
    });
    skipCheckov(this.accessLogBucket, [
      { id: "CKV_AWS_18", comment: "The access-log bucket itself; logging it into itself would loop." },
      {
        id: "CKV_AWS_21",
        comment: "Access logs are written once and expire after 90 days; versions add nothing.",
      },
    ]);
    NagSuppressions.addResourceSuppressions(this.accessLogBucket, [
      {
        id: "AwsSolutions-S1",
        reason: "This is the access-log bucket itself; logging it into itself would loop.",
      },
    ]);

    this.rawBucket = new s3.Bucket(this, "RawBucket", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: "raw/",
      lifecycleRules: [
        {
          id: "raw-to-cold-storage",
          transitions: [
            {
              storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(settings.rawColdAfterDays),
            },
          ],
          noncurrentVersionExpiration: Duration.days(settings.rawNoncurrentExpiryDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy,
    });

    this.openWeatherSecret = new secretsmanager.Secret(this, "OpenWeatherApiKey", {
      description: `weather-dataops ${settings.stage}: OpenWeatherMap API key (secret string = the key). Set it with put-secret-value.`,
      removalPolicy,
    });
    NagSuppressions.addResourceSuppressions(this.openWeatherSecret, [
      {
        id: "AwsSolutions-SMG4",
        reason:
          "A third-party API key: rotation happens in the OpenWeatherMap account, not by a Lambda here.",
      },
    ]);

    this.alarmTopic = new sns.Topic(this, "AlarmTopic", {
      displayName: `weather-dataops ${settings.stage} alarms`,
      enforceSSL: true,
    });
    this.alarmTopic.applyRemovalPolicy(removalPolicy);
    NagSuppressions.addResourceSuppressions(this.alarmTopic, [
      {
        id: "AwsSolutions-SNS2",
        reason:
          "Alarm and workflow-failure notices carry no sensitive data; CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key, and a customer key adds cost for no gain.",
      },
    ]);

    // Email subscription as a CloudFormation parameter: empty (the default) means no subscription.
    this.alarmEmail = new CfnParameter(Stack.of(this), "AlarmEmail", {
      type: "String",
      default: settings.alarmEmail,
      allowedPattern: "^$|^[^@\\s]+@[^@\\s]+$",
      description: "Email address subscribed to the alarm topic (confirm the mail AWS sends). Empty: none.",
    });
    const hasEmail = new CfnCondition(this, "HasAlarmEmail", {
      expression: Fn.conditionNot(Fn.conditionEquals(this.alarmEmail.valueAsString, "")),
    });
    const subscription = new sns.CfnSubscription(this, "AlarmEmailSubscription", {
      topicArn: this.alarmTopic.topicArn,
      protocol: "email",
      endpoint: this.alarmEmail.valueAsString,
    });
    subscription.cfnOptions.condition = hasEmail;

    if (settings.rds) {
      const { vpc, database, clientSg, secret } = this.createDatabase(settings.stage, removalPolicy);
      this.network = { vpc, databaseClientSecurityGroup: clientSg };
      this.database = database;
      this.databaseSecret = secret;
      const functionSecrets = {} as Record<FunctionId, secretsmanager.ISecret>;
      for (const id of FUNCTION_IDS)
        functionSecrets[id] = this.createRoleUrlSecret(id, settings.stage, database, removalPolicy);
      this.functionDatabaseSecrets = functionSecrets;
    } else {
      this.databaseSecret = this.externalUrlSecret(
        "DatabaseUrl",
        `weather-dataops ${settings.stage}: external Postgres, the migration owner: secret string = {"url":"postgres://owner:...@host/db"}. Set it with put-secret-value.`,
        removalPolicy,
      );
      const functionSecrets = {} as Record<FunctionId, secretsmanager.ISecret>;
      for (const id of FUNCTION_IDS)
        functionSecrets[id] = this.externalUrlSecret(
          `${id}DatabaseUrl`,
          `weather-dataops ${settings.stage}: the ${id} function's database URL as role ${FUNCTION_DATABASE_ROLES[id]}: secret string = {"url":"postgres://${FUNCTION_DATABASE_ROLES[id]}:...@host/db"}. Set it with put-secret-value.`,
          removalPolicy,
        );
      this.functionDatabaseSecrets = functionSecrets;
    }
  }

  /** A URL secret of an external Postgres, filled in by the operator (docs/deploy-aws.md). */
  private externalUrlSecret(id: string, description: string, removalPolicy: RemovalPolicy) {
    const secret = new secretsmanager.Secret(this, id, { description, removalPolicy });
    NagSuppressions.addResourceSuppressions(secret, [
      {
        id: "AwsSolutions-SMG4",
        reason:
          "Credentials of an external Postgres that this stack does not manage; its owner rotates them.",
      },
    ]);
    return secret;
  }

  /**
   * RDS: a generated password for the function's role, and its URL secret derived from it at deploy
   * time (like the owner's). The role gets that password with `alter role ... login password`, run by
   * the operator after `weather migrate` (docs/deploy-aws.md, "Database roles").
   */
  private createRoleUrlSecret(
    id: FunctionId,
    stage: string,
    database: rds.DatabaseInstance,
    removalPolicy: RemovalPolicy,
  ): secretsmanager.ISecret {
    const role = FUNCTION_DATABASE_ROLES[id];
    const credentials = new secretsmanager.Secret(this, `${id}DatabaseRole`, {
      description: `weather-dataops ${stage}: password of database role ${role} ({"username","password"})`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: role }),
        generateStringKey: "password",
        excludePunctuation: true,
        passwordLength: 32,
      },
      removalPolicy,
    });
    const password = credentials.secretValueFromJson("password").unsafeUnwrap();
    const url = `postgres://${role}:${password}@${database.dbInstanceEndpointAddress}:${database.dbInstanceEndpointPort}/${DATABASE_NAME}?sslmode=no-verify`;
    const secret = new secretsmanager.Secret(this, `${id}DatabaseUrl`, {
      description: `weather-dataops ${stage}: the ${id} function's database URL as role ${role}, derived at deploy`,
      secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ url })),
      removalPolicy,
    });
    for (const s of [credentials, secret])
      NagSuppressions.addResourceSuppressions(s, [
        {
          id: "AwsSolutions-SMG4",
          reason:
            "A role password the operator applies with alter role (docs/runbook.md); rotate by put-secret-value, alter role and a redeploy.",
        },
      ]);
    return secret;
  }

  /** VPC (one NAT: functions still reach the weather APIs), db.t4g.micro Postgres, URL secret. */
  private createDatabase(stage: string, removalPolicy: RemovalPolicy) {
    const vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 1,
      // The default-SG lockdown is a CDK custom resource; this project deploys none.
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: "app", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
        { name: "db", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    NagSuppressions.addResourceSuppressions(vpc, [
      {
        id: "AwsSolutions-VPC7",
        reason:
          "Flow logs cost more than the database for this low-traffic VPC; enable them when investigating.",
      },
    ]);
    const clientSg = new ec2.SecurityGroup(this, "DatabaseClientSg", {
      vpc,
      description: "weather-dataops functions that connect to the database",
      allowAllOutbound: true,
    });
    const dbSg = new ec2.SecurityGroup(this, "DatabaseSg", {
      vpc,
      description: "weather-dataops Postgres: only the pipeline functions security group may connect",
      allowAllOutbound: false,
    });
    dbSg.addIngressRule(clientSg, ec2.Port.tcp(5432), "Postgres from the pipeline functions");
    const database = new rds.DatabaseInstance(this, "Database", {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17_6 }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [dbSg],
      databaseName: DATABASE_NAME,
      credentials: rds.Credentials.fromGeneratedSecret("weather"),
      allocatedStorage: 20,
      storageType: rds.StorageType.GP3,
      storageEncrypted: true,
      multiAz: false,
      backupRetention: Duration.days(7),
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: removalPolicy === RemovalPolicy.RETAIN ? RemovalPolicy.SNAPSHOT : removalPolicy,
      cloudwatchLogsExports: ["postgresql"],
      iamAuthentication: true,
      autoMinorVersionUpgrade: true,
    });
    NagSuppressions.addResourceSuppressions(
      database,
      [
        {
          id: "AwsSolutions-RDS3",
          reason:
            "Single-AZ keeps the optional database at ~12 USD/month; hourly batch data can be re-ingested from raw.",
        },
        {
          id: "AwsSolutions-RDS11",
          reason:
            "Reachable only from the functions' security group in isolated subnets; a non-default port adds nothing.",
        },
        {
          id: "AwsSolutions-SMG4",
          reason:
            "The functions read a URL secret derived at deploy time; rotation would need a rotation Lambda that also rewrites it.",
        },
      ],
      true,
    );
    skipCheckov(database, [
      {
        id: "CKV_AWS_157",
        comment: "Single-AZ on purpose (cost); hourly batch data can be re-ingested from raw.",
      },
      {
        id: "CKV_AWS_118",
        comment:
          "Enhanced monitoring needs an extra role and log volume; basic RDS metrics and the postgresql log export suffice.",
      },
    ]);
    const rdsSecret = database.secret;
    if (!rdsSecret)
      throw new Error("RDS instance has no generated secret; keep Credentials.fromGeneratedSecret");
    // The functions read one shape, {"url": ...}. CloudFormation resolves the dynamic reference at
    // deploy time, so the password never appears in the template. `no-verify`: TLS without checking
    // the RDS CA, which is not in Node's default trust store.
    const password = rdsSecret.secretValueFromJson("password").unsafeUnwrap();
    const url = `postgres://weather:${password}@${database.dbInstanceEndpointAddress}:${database.dbInstanceEndpointPort}/${DATABASE_NAME}?sslmode=no-verify`;
    const secret = new secretsmanager.Secret(this, "DatabaseUrl", {
      description: `weather-dataops ${stage}: RDS Postgres, secret string = {"url":"postgres://..."} derived at deploy`,
      secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ url })),
      removalPolicy,
    });
    NagSuppressions.addResourceSuppressions(secret, [
      {
        id: "AwsSolutions-SMG4",
        reason: "Derived from the RDS secret at deploy time; rotate by rotating RDS and redeploying.",
      },
    ]);
    return { vpc, database, clientSg, secret };
  }
}
