import type { StackContext } from "sst/constructs";
import { acceptSstStackHandler } from "./constructs/sst-stack.ts";
import { StatefulResources } from "./constructs/stateful.ts";
import { settingsFromContext } from "./settings.ts";

/** Stateful stack: raw bucket, secrets, alarm topic (and RDS behind the `rds` flag). */
export function Data({ stack, app }: StackContext) {
  const settings = settingsFromContext(app.stage, app.node);
  acceptSstStackHandler(stack);
  const stateful = new StatefulResources(stack, "Data", { settings });
  stack.addOutputs({
    RawBucket: stateful.rawBucket.bucketName,
    DatabaseSecretArn: stateful.databaseSecret.secretArn,
    IngestDatabaseSecretArn: stateful.functionDatabaseSecrets.Ingest.secretArn,
    TransformDatabaseSecretArn: stateful.functionDatabaseSecrets.Transform.secretArn,
    CheckQualityDatabaseSecretArn: stateful.functionDatabaseSecrets.CheckQuality.secretArn,
    HealDatabaseSecretArn: stateful.functionDatabaseSecrets.Heal.secretArn,
    OpenWeatherSecretArn: stateful.openWeatherSecret.secretArn,
    AlarmTopicArn: stateful.alarmTopic.topicArn,
  });
  return { stateful };
}
