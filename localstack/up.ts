/**
 * `npm run local:up`, second half (scripts/local-up.sh starts LocalStack and the simulator first):
 * create and migrate the database, deploy both stacks with the secrets filled in, print the endpoints.
 *
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/weather_local),
 * SIMULATOR_URL (default http://127.0.0.1:8787), OPENWEATHER_API_KEY (default `local-dummy-key`: the
 * value the simulator started by local-up.sh accepts).
 */
import {
  createDatabaseIfMissing,
  DEFAULT_DATABASE_URL,
  deployLocalCloud,
  ENDPOINT,
  migrateDatabase,
} from "./local-cloud.ts";

const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const simulatorUrl = process.env.SIMULATOR_URL || "http://127.0.0.1:8787";
const openWeatherKey = process.env.OPENWEATHER_API_KEY || "local-dummy-key";
const log = (line: string) => process.stderr.write(`local:up: ${line}\n`);

const created = await createDatabaseIfMissing(databaseUrl);
log(`${created ? "created" : "using"} database ${new URL(databaseUrl).pathname.slice(1)}`);
await migrateDatabase(databaseUrl);
log("migrations applied");
const cloud = await deployLocalCloud({
  databaseUrl,
  openWeatherKey,
  functionEnv: {
    SIMULATOR_URL: simulatorUrl,
    OPEN_METEO_BASE_URL: simulatorUrl,
    OPENWEATHER_BASE_URL: simulatorUrl,
  },
  // See stacks/settings.ts: with LocalStack's evaluator this fires 3-4 minutes after ingestion stops.
  noDataPeriods: 1,
  log,
});
const out = {
  localstack: ENDPOINT,
  simulator: simulatorUrl,
  databaseUrl,
  rawBucket: cloud.rawBucket,
  functions: Object.fromEntries(Object.entries(cloud.functions).map(([k, f]) => [k, f.name])),
  pipelineStateMachine: cloud.pipelineArn,
  starterStateMachine: cloud.starterArn,
  scheduleRule: cloud.scheduleRuleName,
  alarmTopic: cloud.alarmTopicArn,
  alarms: Object.values(cloud.alarms),
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
log(
  `deployed; the schedule ingests every minute. Watch it with: DATABASE_URL='${databaseUrl}' npm run weather -- status`,
);
