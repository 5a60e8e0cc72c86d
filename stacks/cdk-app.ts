/**
 * Plain CDK entry (see cdk.json), deployed by LocalStack and usable against AWS:
 *   npx cdk synth -c stage=local [-c rds=true] [-c alarmEmail=a@b.c] [-c nag=false]
 *     [-c functionEnv='{"OPEN_METEO_BASE_URL":"http://127.0.0.1:8787"}']
 * Tests build the same app through {@link buildApp}.
 */
import { App } from "aws-cdk-lib";
import { buildApp } from "./app-builder.ts";

const app = new App();
buildApp({
  app,
  stage: String(app.node.tryGetContext("stage") ?? "local"),
  nag: String(app.node.tryGetContext("nag") ?? "true") === "true",
});
app.synth();
