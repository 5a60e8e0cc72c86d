import type { SSTConfig } from "sst";
import { Data } from "./stacks/Data.ts";
import { Pipeline } from "./stacks/Pipeline.ts";

/**
 * SST v2 app: `npx sst deploy --stage prod`, `npx sst dev` (live Lambda). Needs AWS credentials, so
 * CI never runs it; `npm run test:infra` checks the same constructs offline.
 * Optional flags come from the environment (SST loads `.env.<stage>`): WEATHER_RDS=true creates the
 * RDS Postgres; ALARM_EMAIL subscribes an address to the alarm topic.
 */
export default {
  config() {
    return { name: "weather-dataops", region: "us-east-1" };
  },
  stacks(app) {
    // Context, not globals: the stack functions read these exactly like the plain CDK app's `-c` flags.
    app.node.setContext("rds", process.env.WEATHER_RDS ?? "false");
    if (process.env.ALARM_EMAIL) app.node.setContext("alarmEmail", process.env.ALARM_EMAIL);
    app.stack(Data).stack(Pipeline);
  },
} satisfies SSTConfig;
