/**
 * Everything that can be redeployed without touching data: the four functions (with explicit log
 * groups and roles), the hourly ingest schedule and the daily heal schedule, the pipeline state
 * machine from the one ASL file, the starter that names each execution after its interval, and the
 * alarms.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ArnFormat, Duration, Stack } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cwActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import {
  applyMapConcurrency,
  applyTimeLimits,
  TimeLimitError,
  timeLimitProblems,
} from "../../core/workflow/time-limits.ts";
import type { StageSettings } from "../settings.ts";
import { type FunctionFactory, type FunctionSpec, SITES_FILE_IN_BUNDLE } from "./function-factory.ts";
import type { StatefulRefs } from "./stateful.ts";

/** The one ASL file, relative to the project root. */
export const PIPELINE_ASL = "workflows/pipeline.asl.json";
/** Event contract between ingest and the workflow. */
export const INGEST_EVENT = { source: "weather-dataops.ingest", detailType: "IngestionCompleted" } as const;
/** The starter catches this when an execution for the interval already exists: a duplicate is a no-op. */
export const EXECUTION_EXISTS_ERROR = "StepFunctions.ExecutionAlreadyExistsException";

export interface StatelessProps {
  settings: StageSettings;
  stateful: StatefulRefs;
  functionFactory: FunctionFactory;
  /** Absolute repository root: the ASL file and function entries are resolved from it. */
  projectRoot: string;
}

export interface PipelineFunctionDef {
  id: "Ingest" | "Transform" | "CheckQuality" | "Heal";
  entry: string;
  description: string;
  memorySize: number;
  /** Ingest's and Heal's own; the workflow functions' follow the stage's task time limits ({@link functionTimeout}). */
  timeout: Duration;
}

/**
 * A workflow function's timeout equals the longest time limit of the Task states it serves: Step
 * Functions does not stop a Lambda whose Task timed out, so a longer timeout would leave a zombie
 * holding the layer's lock while the retry queues behind it; a shorter one would make the Task's
 * limit unreachable. The handler cancels its own SQL just before (core/workflow/time-limits.ts).
 */
export function functionTimeout(def: PipelineFunctionDef, settings: StageSettings): Duration {
  const t = settings.timeLimits.tasks;
  if (def.id === "Ingest")
    return Duration.seconds(Math.max(t.PlanIngest, t.IngestShard, t.CompleteIngestion));
  if (def.id === "Transform") return Duration.seconds(Math.max(t.Silver, t.Gold));
  if (def.id === "CheckQuality") return Duration.seconds(Math.max(t.SilverChecks, t.QualityChecks));
  return def.timeout;
}

/** Sizing: ingest waits on rate-limited HTTP (OpenWeatherMap: 60/min); transforms are SQL round trips. */
export const FUNCTIONS: readonly PipelineFunctionDef[] = [
  {
    id: "Ingest",
    entry: "functions/ingest.ts",
    description:
      "Plan, ingest one shard of, or complete the workflow's ingest phase (raw + bronze); or ingest every site standalone",
    memorySize: 512,
    // The workflow's ingest task limits set it ({@link functionTimeout}).
    timeout: Duration.minutes(5),
  },
  {
    id: "Transform",
    entry: "functions/transform.ts",
    description: "Build silver or gold for one interval (idempotent)",
    memorySize: 512,
    timeout: Duration.minutes(2),
  },
  {
    id: "CheckQuality",
    entry: "functions/check-quality.ts",
    description: "Run the quality checks for one interval",
    memorySize: 256,
    timeout: Duration.minutes(1),
  },
  {
    // Daily: fetches history for the missing site-hours of the last days (a few weighted requests)
    // and runs one bulk transform over them in-process, so it gets the longest timeout.
    id: "Heal",
    entry: "functions/heal.ts",
    description:
      "Fetch history for the site-hours missing in the last days, transform them, report GapsRemaining",
    memorySize: 512,
    timeout: Duration.minutes(10),
  },
];

/**
 * Raw history objects (core/use-cases/history.ts): the heal function may write there and nowhere
 * else in the bucket.
 */
export const RAW_HISTORY_OBJECTS = "source=*/history/*";

/** Shard manifests (core/use-cases/shards.ts `manifestKey`): the workflow's ItemReader reads them. */
export const MANIFEST_OBJECTS = "source=*/manifests/*";

export class StatelessResources extends Construct {
  readonly functions: Record<PipelineFunctionDef["id"], IFunction>;
  readonly logGroups: Record<PipelineFunctionDef["id"], logs.LogGroup>;
  readonly pipeline: sfn.StateMachine;
  readonly starter: sfn.StateMachine;
  readonly scheduleRule: events.Rule;
  readonly healRule: events.Rule;
  readonly ingestCompletedRule: events.Rule;
  readonly alarms: Record<AlarmKey, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: StatelessProps) {
    super(scope, id);
    const { settings, stateful, functionFactory, projectRoot } = props;
    const prefix = `weather-dataops-${settings.stage}`;

    const commonEnv: Record<string, string> = {
      RAW_STORE: `s3://${stateful.rawBucket.bucketName}`,
      WEATHER_SOURCE: settings.weatherSource,
      SITES_FILE: SITES_FILE_IN_BUNDLE,
      // The only writable directory in Lambda; nothing should land there, but the default is relative.
      WEATHER_HOME: "/tmp/weather",
      ALARM_TOPIC_ARN: stateful.alarmTopic.topicArn,
      POWERTOOLS_SERVICE_NAME: settings.serviceName,
      POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
      ...(settings.awsEndpointUrl ? { AWS_ENDPOINT_URL: settings.awsEndpointUrl } : {}),
      ...settings.functionEnv,
    };
    const extraEnv: Record<PipelineFunctionDef["id"], Record<string, string>> = {
      Ingest: {
        OPENWEATHER_SECRET_ARN: stateful.openWeatherSecret.secretArn,
        EVENT_BUS_NAME: "default",
        INGEST_SHARD_SIZE: String(settings.ingest.shardSize),
        INGEST_SHARD_CONCURRENCY: String(settings.ingest.shardConcurrency),
      },
      Transform: {},
      CheckQuality: {},
      Heal: {},
    };

    const fns = {} as Record<PipelineFunctionDef["id"], IFunction>;
    const logGroups = {} as Record<PipelineFunctionDef["id"], logs.LogGroup>;
    for (const def of FUNCTIONS) {
      const logGroup = new logs.LogGroup(this, `${def.id}Logs`, {
        logGroupName: `/aws/lambda/${prefix}-${def.id.toLowerCase()}`,
        retention: settings.logRetention,
      });
      const role = new iam.Role(this, `${def.id}Role`, {
        assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
        description: `${prefix} ${def.id} function`,
      });
      // Exactly the log group above, instead of AWSLambdaBasicExecutionRole's logs:* on every group.
      logGroup.grantWrite(role);
      if (stateful.network) {
        // ENI management for VPC functions; AWS's managed policy has no narrower equivalent.
        role.addManagedPolicy(
          iam.ManagedPolicy.fromAwsManagedPolicyName("service-role/AWSLambdaVPCAccessExecutionRole"),
        );
        NagSuppressions.addResourceSuppressions(role, [
          {
            id: "AwsSolutions-IAM4",
            reason:
              "AWSLambdaVPCAccessExecutionRole only grants the ENI actions Lambda needs in a VPC, which AWS only supports on Resource '*'.",
            appliesTo: [
              "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
            ],
          },
        ]);
      }
      const spec: FunctionSpec = {
        entry: def.entry,
        description: def.description,
        memorySize: def.memorySize,
        timeout: functionTimeout(def, settings),
        // Each function's own URL secret: it connects as its own database role.
        environment: {
          DATABASE_SECRET_ARN: stateful.functionDatabaseSecrets[def.id].secretArn,
          ...commonEnv,
          ...extraEnv[def.id],
        },
        logGroup,
        role,
      };
      const fn = functionFactory(this, def.id, spec);
      if (stateful.network) this.placeInVpc(fn, stateful.network);
      stateful.functionDatabaseSecrets[def.id].grantRead(role);
      stateful.alarmTopic.grantPublish(role);
      fns[def.id] = fn;
      logGroups[def.id] = logGroup;
    }
    this.functions = fns;
    this.logGroups = logGroups;

    // Ingest alone touches the raw bucket, the API key and the event bus. Three S3 actions instead of
    // grantReadWrite's wildcards (s3:GetObject*, s3:List*, s3:Abort*, s3:DeleteObject*).
    const ingestRole = fns.Ingest.role as iam.IRole;
    ingestRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject", "s3:PutObject"],
        resources: [stateful.rawBucket.arnForObjects("*")],
      }),
    );
    ingestRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ["s3:ListBucket"], resources: [stateful.rawBucket.bucketArn] }),
    );
    NagSuppressions.addResourceSuppressions(
      ingestRole,
      [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "Raw objects are keyed by source/interval/site under the one raw bucket: object ARNs need bucket/*.",
          appliesTo: [{ regex: "/^Resource::.*RawBucket.*Arn.*\\/\\*$/g" }],
        },
      ],
      true,
    );
    stateful.openWeatherSecret.grantRead(fns.Ingest);
    events.EventBus.fromEventBusName(this, "DefaultBus", "default").grantPutEventsTo(fns.Ingest);

    // Heal lands raw history (append-only: put, and the conditional put needs no read) and writes
    // bronze, silver and gold through the database secret; no API key (history comes from Open-Meteo
    // or the simulator), no events (it transforms in-process).
    const healRole = fns.Heal.role as iam.IRole;
    healRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:PutObject"],
        resources: [stateful.rawBucket.arnForObjects(RAW_HISTORY_OBJECTS)],
      }),
    );
    NagSuppressions.addResourceSuppressions(
      healRole,
      [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "Raw history objects are keyed source=<S>/history/...: the heal may put objects under those prefixes only.",
          appliesTo: [{ regex: "/^Resource::.*RawBucket.*Arn.*\\/source=\\*\\/history\\/\\*$/g" }],
        },
      ],
      true,
    );
    this.healRule = new events.Rule(this, "HealSchedule", {
      description: `${prefix}: heal the gaps of the last ${settings.heal.days} days (${settings.heal.schedule})`,
      schedule: events.Schedule.expression(settings.heal.schedule),
      targets: [
        new targets.LambdaFunction(fns.Heal, {
          event: events.RuleTargetInput.fromObject({ days: settings.heal.days }),
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });

    this.pipeline = this.createPipeline(prefix, settings, stateful, projectRoot);
    this.starter = this.createStarter(prefix, settings);

    // The hour's execution, ingest phase included: the starter names it after the hour of `time`.
    this.scheduleRule = new events.Rule(this, "IngestSchedule", {
      description: `${prefix}: start the hour's workflow, ingest in shards then transforms (${settings.schedule})`,
      schedule: events.Schedule.expression(settings.schedule),
      targets: [
        new targets.SfnStateMachine(this.starter, {
          input: events.RuleTargetInput.fromObject({ time: events.EventField.time, ingest: true }),
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });

    this.ingestCompletedRule = new events.Rule(this, "IngestionCompletedRule", {
      description: `${prefix}: start the transforms for an interval a standalone ingest just completed`,
      // The workflow's own ingest phase says `shards`: that execution transforms next by itself.
      eventPattern: {
        source: [INGEST_EVENT.source],
        detailType: [INGEST_EVENT.detailType],
        detail: { shards: [{ exists: false }] },
      },
      targets: [
        new targets.SfnStateMachine(this.starter, {
          input: events.RuleTargetInput.fromEventPath("$.detail"),
          retryAttempts: 4,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });

    this.alarms = this.createAlarms(prefix, settings, stateful);
  }

  private placeInVpc(fn: IFunction, network: NonNullable<StatefulRefs["network"]>) {
    // Both factories build a lambda.Function; VPC placement goes on its L1 so the factory stays simple.
    const cfn = fn.node.defaultChild as import("aws-cdk-lib/aws-lambda").CfnFunction;
    const subnets = network.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    cfn.vpcConfig = {
      securityGroupIds: [network.databaseClientSecurityGroup.securityGroupId],
      subnetIds: subnets.subnetIds,
    };
  }

  private createPipeline(
    prefix: string,
    settings: StageSettings,
    stateful: StatefulRefs,
    projectRoot: string,
  ) {
    const logGroup = new logs.LogGroup(this, "WorkflowLogs", {
      logGroupName: `/aws/vendedlogs/states/${prefix}-pipeline`,
      retention: settings.logRetention,
    });
    const pipeline = new sfn.StateMachine(this, "Workflow", {
      stateMachineName: `${prefix}-pipeline`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Inline: the ASL file with the stage's time limits (the `timeout` prop is ignored for a definition
      // body that is not a CDK chain, and ASL numbers cannot come from string substitutions).
      definitionBody: sfn.DefinitionBody.fromString(pipelineDefinition(projectRoot, settings)),
      definitionSubstitutions: {
        IngestFunctionArn: this.functions.Ingest.functionArn,
        TransformFunctionArn: this.functions.Transform.functionArn,
        CheckQualityFunctionArn: this.functions.CheckQuality.functionArn,
        NotifyTopicArn: stateful.alarmTopic.topicArn,
      },
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    this.functions.Ingest.grantInvoke(pipeline);
    this.functions.Transform.grantInvoke(pipeline);
    this.functions.CheckQuality.grantInvoke(pipeline);
    stateful.alarmTopic.grantPublish(pipeline);
    // The Distributed Map: its ItemReader reads the manifest, and it runs each shard as a child
    // execution of this state machine (ARNs by name: the machine's own ARN would be a cycle).
    pipeline.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [stateful.rawBucket.arnForObjects(MANIFEST_OBJECTS)],
      }),
    );
    const stack = Stack.of(this);
    const machineName = `${prefix}-pipeline`;
    pipeline.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["states:StartExecution"],
        resources: [
          stack.formatArn({
            service: "states",
            resource: "stateMachine",
            resourceName: machineName,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    pipeline.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["states:DescribeExecution", "states:StopExecution"],
        resources: [
          stack.formatArn({
            service: "states",
            resource: "execution",
            resourceName: `${machineName}/*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    NagSuppressions.addResourceSuppressions(
      pipeline,
      [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "grantInvoke adds <function ARN>:* so versions/aliases may be invoked; scoped to the two task functions.",
          appliesTo: [{ regex: "/^Resource::<.*(Ingest|Transform|CheckQuality).*\\.Arn>:\\*$/g" }],
        },
        {
          id: "AwsSolutions-IAM5",
          reason:
            "The Distributed Map reads shard manifests (source=<S>/manifests/...) and starts, describes and stops its own child executions (execution:<machine>/*).",
          appliesTo: [
            { regex: "/^Resource::.*RawBucket.*Arn.*\\/source=\\*\\/manifests\\/\\*$/g" },
            { regex: "/^Resource::arn:.*:states:.*:execution:weather-dataops-.*-pipeline\\/\\*$/g" },
          ],
        },
        ...VENDED_LOGS_SUPPRESSIONS,
      ],
      true,
    );
    return pipeline;
  }

  /**
   * An EventBridge target cannot name an execution, so both rules start this small machine, which
   * starts the pipeline with `name = interval` (from the schedule's `time`, or IngestionCompleted's
   * `interval`). A second event for the same interval gets ExecutionAlreadyExists, caught as a no-op:
   * the schedule firing twice in one hour, a standalone ingest of an hour the schedule ran.
   */
  private createStarter(prefix: string, settings: StageSettings) {
    const logGroup = new logs.LogGroup(this, "StarterLogs", {
      logGroupName: `/aws/vendedlogs/states/${prefix}-start-pipeline`,
      retention: settings.logRetention,
    });
    const start = new tasks.StepFunctionsStartExecution(this, "StartPipeline", {
      stateMachine: this.pipeline,
      name: settings.executionNamePrefix
        ? sfn.JsonPath.format(`${settings.executionNamePrefix}{}`, sfn.JsonPath.stringAt("$.interval"))
        : sfn.JsonPath.stringAt("$.interval"),
      input: sfn.TaskInput.fromJsonPathAt("$"),
      integrationPattern: sfn.IntegrationPattern.REQUEST_RESPONSE,
      associateWithParent: false,
      resultPath: sfn.JsonPath.DISCARD,
    });
    start.addRetry({
      errors: ["StepFunctions.StepFunctionsException", "States.TaskFailed"],
      interval: Duration.seconds(2),
      maxAttempts: 3,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    start.addCatch(new sfn.Succeed(this, "AlreadyStarted", { comment: "Duplicate trigger: no-op" }), {
      errors: [EXECUTION_EXISTS_ERROR],
    });
    // The schedule's input is `{ time, ingest: true }`: the hour of `time` (2026-11-22T13:05:00Z →
    // 2026-11-22T13, the part before the first colon) names the execution, as intervalOf does.
    const hourOfTime = new sfn.Pass(this, "IntervalFromTime", {
      parameters: {
        "interval.$": "States.ArrayGetItem(States.StringSplit($.time, ':'), 0)",
        "ingest.$": "$.ingest",
      },
    });
    start.next(new sfn.Succeed(this, "Started"));
    const route = new sfn.Choice(this, "ScheduledOrCompleted")
      .when(sfn.Condition.isPresent("$.time"), hourOfTime.next(start))
      .otherwise(start);
    const starter = new sfn.StateMachine(this, "Starter", {
      stateMachineName: `${prefix}-start-pipeline`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(route),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.minutes(5),
    });
    NagSuppressions.addResourceSuppressions(starter, VENDED_LOGS_SUPPRESSIONS, true);
    return starter;
  }

  private createAlarms(prefix: string, settings: StageSettings, stateful: StatefulRefs) {
    const a = settings.alarms;
    const service = { service: settings.serviceName };
    const custom = (metricName: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({
        namespace: settings.metricsNamespace,
        metricName,
        dimensionsMap: service,
        statistic,
        period,
      });
    const defs: Record<AlarmKey, cloudwatch.AlarmProps> = {
      PipelineFailed: {
        metric: this.pipeline.metricFailed({ period: a.period, statistic: "Sum" }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      PipelineStartFailed: {
        metric: this.starter.metricFailed({ period: a.period, statistic: "Sum" }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      IngestErrors: {
        metric: this.functions.Ingest.metricErrors({ period: a.period, statistic: "Sum" }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      SiteFailureRatio: {
        // Ingest publishes the ratio in percent (unit Percent, 0..100); the setting is a 0..1 ratio
        // like the CLI's SITE_FAILURE_THRESHOLD.
        metric: custom("SiteFailureRatio", "Maximum", a.period),
        threshold: Math.round(a.siteFailureRatio * 100 * 1000) / 1000,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      FetchLatency: {
        metric: custom("FetchLatencyMs", "Average", a.period),
        threshold: a.fetchLatencyMs,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      NoObservations: {
        metric: custom("ObservationsLoaded", "Sum", a.noDataPeriod),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: a.noDataPeriods,
        datapointsToAlarm: a.noDataPeriods,
        // Missing data is the failure: this must fire even when the schedule itself has died.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      },
      DbErrors: {
        metric: custom("DbErrors", "Sum", a.period),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      PipelineTimedOut: {
        // An execution past its own limit runs no Catch, so NotifyFailure never speaks: this does.
        metric: this.pipeline.metricTimedOut({ period: a.period, statistic: "Sum" }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      QualityCheckFailed: {
        // Published by the check function on every run (0 when passing), for the silver gate and gold.
        metric: custom("QualityCheckFailed", "Sum", a.period),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      GapsRemaining: {
        // Published by every heal run (0 when every gap was filled). Maximum over the heal's own
        // cadence: a heal that left gaps keeps this in ALARM until the next heal reports.
        metric: custom("GapsRemaining", "Maximum", a.gapsRemainingPeriod),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      HealErrors: {
        // A heal that throws publishes no GapsRemaining: this is what notices it.
        metric: this.functions.Heal.metricErrors({ period: a.period, statistic: "Sum" }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      StepRetries: {
        metric: custom("StepRetries", "Sum", a.stepRetriesPeriod),
        threshold: a.stepRetries,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    };
    const action = new cwActions.SnsAction(stateful.alarmTopic);
    const alarms = {} as Record<AlarmKey, cloudwatch.Alarm>;
    for (const key of ALARM_KEYS) {
      const alarm = new cloudwatch.Alarm(this, `${key}Alarm`, {
        ...defs[key],
        alarmName: `${prefix}-${ALARM_RUNBOOK[key]}`,
        alarmDescription: `${ALARM_SUMMARY[key]} Runbook: docs/runbook.md#${ALARM_RUNBOOK[key]}`,
        actionsEnabled: true,
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      alarms[key] = alarm;
    }
    return alarms;
  }
}

/**
 * The one ASL file with the stage's time limits set; `${Name}` placeholders stay for
 * DefinitionSubstitutions. Throws TimeLimitError when the execution limit could cut off a failing
 * execution before its notification.
 */
export function pipelineDefinition(projectRoot: string, settings: StageSettings): string {
  const file = JSON.parse(readFileSync(join(projectRoot, PIPELINE_ASL), "utf8")) as object;
  const definition = applyMapConcurrency(
    applyTimeLimits(file, settings.timeLimits),
    settings.ingest.shardConcurrency,
  );
  const problems = timeLimitProblems(definition);
  if (problems.length > 0) throw new TimeLimitError(`Stage ${settings.stage}: ${problems.join("; ")}`);
  return JSON.stringify(definition, null, 2);
}

export const ALARM_KEYS = [
  "PipelineFailed",
  "PipelineStartFailed",
  "IngestErrors",
  "SiteFailureRatio",
  "FetchLatency",
  "NoObservations",
  "DbErrors",
  "PipelineTimedOut",
  "StepRetries",
  "QualityCheckFailed",
  "GapsRemaining",
  "HealErrors",
] as const;
export type AlarmKey = (typeof ALARM_KEYS)[number];

/** Alarm name suffix = the runbook section anchor (docs/runbook.md). */
export const ALARM_RUNBOOK: Record<AlarmKey, string> = {
  PipelineFailed: "pipeline-failed",
  PipelineStartFailed: "pipeline-start-failed",
  IngestErrors: "ingest-errors",
  SiteFailureRatio: "site-failure-ratio",
  FetchLatency: "fetch-latency",
  NoObservations: "no-observations",
  DbErrors: "db-errors",
  PipelineTimedOut: "pipeline-timed-out",
  StepRetries: "step-retries",
  QualityCheckFailed: "quality-check-failed",
  GapsRemaining: "gaps-remaining",
  HealErrors: "heal-errors",
};

const ALARM_SUMMARY: Record<AlarmKey, string> = {
  PipelineFailed: "A pipeline execution (silver, gold or checks) failed.",
  PipelineStartFailed: "The starter could not start the pipeline for an interval.",
  IngestErrors: "The ingest function threw.",
  SiteFailureRatio: "Too many sites failed in an ingest run.",
  FetchLatency: "Weather API calls are slow on average.",
  NoObservations: "No observations were loaded for the whole window (schedule, ingest or provider down).",
  DbErrors: "A function hit database errors.",
  PipelineTimedOut: "A pipeline execution ran past its own time limit (no failure notification was sent).",
  StepRetries: "Workflow steps keep being retried (failures or time-outs that later healed).",
  QualityCheckFailed: "A quality check of severity error failed (SilverChecks stops before Gold).",
  GapsRemaining: "Site-hours of the last days are still missing after the daily heal.",
  HealErrors: "The heal function threw (no GapsRemaining was reported).",
};

/** Both state machines log to CloudWatch; AWS requires Resource "*" for log delivery, no X-Ray. */
const VENDED_LOGS_SUPPRESSIONS = [
  {
    id: "AwsSolutions-IAM5",
    reason:
      "Step Functions log delivery (logs:CreateLogDelivery, logs:DescribeResourcePolicies, ...) only supports Resource '*' (AWS docs: 'IAM policies for logging to CloudWatch Logs').",
    appliesTo: ["Resource::*"],
  },
  {
    id: "AwsSolutions-SF2",
    reason:
      "No X-Ray: three Lambda tasks an hour are fully visible in the execution history and ALL-level logs; tracing would add xray:* on Resource '*'.",
  },
];
