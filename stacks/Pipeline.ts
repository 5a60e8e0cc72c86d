import { type StackContext, use } from "sst/constructs";
import { useProject } from "sst/project.js";
import { sstFunctionFactory } from "./constructs/sst-function-factory.ts";
import { acceptSstStackHandler } from "./constructs/sst-stack.ts";
import { StatelessResources } from "./constructs/stateless.ts";
import { Data } from "./Data.ts";
import { settingsFromContext } from "./settings.ts";

/** Stateless stack: functions, schedules (hourly ingest, daily heal), workflow, alarms; redeploys never touch data. */
export function Pipeline({ stack, app }: StackContext) {
  const { stateful } = use(Data);
  const settings = settingsFromContext(app.stage, app.node);
  acceptSstStackHandler(stack);
  const pipeline = new StatelessResources(stack, "Pipeline", {
    settings,
    stateful,
    functionFactory: sstFunctionFactory(),
    projectRoot: useProject().paths.root,
  });
  // What `npm run deploy:local` and the LocalStack suite find the deployment by (localstack/local-cloud.ts).
  stack.addOutputs({
    StateMachineArn: pipeline.pipeline.stateMachineArn,
    StarterStateMachineArn: pipeline.starter.stateMachineArn,
    IngestFunctionName: pipeline.functions.Ingest.functionName,
    TransformFunctionName: pipeline.functions.Transform.functionName,
    CheckQualityFunctionName: pipeline.functions.CheckQuality.functionName,
    HealFunctionName: pipeline.functions.Heal.functionName,
    ScheduleRuleName: pipeline.scheduleRule.ruleName,
    HealRuleName: pipeline.healRule.ruleName,
  });
  return { pipeline };
}
