/**
 * `npm run deploy:local`, and the second half of `npm run local:up` (scripts/local-up.sh starts LocalStack
 * and the simulator first): create and migrate the database, deploy the SST app's two stacks with the
 * secrets filled in (localstack/local-cloud.ts), print the endpoints. Exits 1 with the reason when a
 * step fails.
 *
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/weather_local),
 * SIMULATOR_URL (default http://127.0.0.1:8787), OPENWEATHER_API_KEY (default `local-dummy-key`: the
 * value the simulator started by local-up.sh accepts), LOCALSTACK_PORT (default 4566), and the stack
 * knobs WEATHER_NO_DATA_PERIODS (default 1 here), WEATHER_HEAL_SCHEDULE, WEATHER_HEAL_DAYS.
 */
import {
  createDatabaseIfMissing,
  DEFAULT_DATABASE_URL,
  deployLocalCloud,
  ENDPOINT,
  knobsFromEnv,
  LocalDeployError,
  migrateDatabase,
  STACKS,
} from "./local-cloud.ts";

const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const openWeatherKey = process.env.OPENWEATHER_API_KEY || "local-dummy-key";
const { simulatorUrl, ...knobs } = knobsFromEnv();
const log = (line: string) => process.stderr.write(`deploy:local: ${line}\n`);

const created = await createDatabaseIfMissing(databaseUrl).catch((e: Error) => {
  log(`cannot reach the database of ${new URL(databaseUrl).host}: ${e.message}`);
  process.exit(1);
});
log(`${created ? "created" : "using"} database ${new URL(databaseUrl).pathname.slice(1)}`);
await migrateDatabase(databaseUrl);
log("migrations applied");
const cloud = await deployLocalCloud({ databaseUrl, openWeatherKey, ...knobs, log }).catch((e: Error) => {
  if (!(e instanceof LocalDeployError)) throw e;
  log(e.message);
  process.exit(1);
});
const out = {
  localstack: ENDPOINT,
  stacks: STACKS,
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
