/** The `IngestionCompleted` event on an EventBridge bus; the rule behind it starts the workflow. */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { Config } from "../config/env.ts";
import { sharedClient } from "./aws-clients.ts";

export interface EventPublisher {
  /**
   * `shards` (and the rest) only from the workflow's ingest phase: the rule that starts the transforms
   * ignores those events, since that workflow transforms next anyway.
   */
  ingestionCompleted(detail: {
    interval: string;
    runId: string;
    status: string;
    shards?: number;
    failedShards?: number[];
    siteFailureRatio?: number;
  }): Promise<void>;
}

export const INGEST_EVENT_SOURCE = "weather-dataops.ingest";

export function eventBridgePublisher(config: Config, busName: string): EventPublisher {
  const client = sharedClient("eventbridge", config, (settings) => new EventBridgeClient(settings));
  return {
    async ingestionCompleted(detail) {
      const out = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: busName,
              Source: INGEST_EVENT_SOURCE,
              DetailType: "IngestionCompleted",
              Detail: JSON.stringify(detail),
            },
          ],
        }),
      );
      if (out.FailedEntryCount)
        throw new Error(`EventBridge rejected IngestionCompleted: ${JSON.stringify(out.Entries)}`);
    },
  };
}
