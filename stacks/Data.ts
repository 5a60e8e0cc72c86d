import type { StackContext } from "sst/constructs";
import { StatefulResources } from "./constructs/stateful.ts";
import { settingsFromContext } from "./settings.ts";

/** Stateful stack: raw bucket, secrets, alarm topic (and RDS behind the `rds` flag). */
export function Data({ stack, app }: StackContext) {
  const settings = settingsFromContext(app.stage, app.node);
  const stateful = new StatefulResources(stack, "Data", { settings });
  stack.addOutputs({
    RawBucket: stateful.rawBucket.bucketName,
    DatabaseSecretArn: stateful.databaseSecret.secretArn,
    OpenWeatherSecretArn: stateful.openWeatherSecret.secretArn,
    AlarmTopicArn: stateful.alarmTopic.topicArn,
  });
  return { stateful };
}
