import { type StackContext, use } from "sst/constructs";
import { useProject } from "sst/project.js";
import { sstFunctionFactory } from "./constructs/sst-function-factory.ts";
import { StatelessResources } from "./constructs/stateless.ts";
import { Data } from "./Data.ts";
import { settingsFromContext } from "./settings.ts";

/** Stateless stack: functions, schedules (hourly ingest, daily heal), workflow, alarms; redeploys never touch data. */
export function Pipeline({ stack, app }: StackContext) {
  const { stateful } = use(Data);
  const settings = settingsFromContext(app.stage, app.node);
  const pipeline = new StatelessResources(stack, "Pipeline", {
    settings,
    stateful,
    functionFactory: sstFunctionFactory(),
    projectRoot: useProject().paths.root,
  });
  stack.addOutputs({
    StateMachineArn: pipeline.pipeline.stateMachineArn,
    IngestFunctionName: pipeline.functions.Ingest.functionName,
    HealFunctionName: pipeline.functions.Heal.functionName,
  });
  return { pipeline };
}
