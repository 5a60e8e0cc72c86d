/**
 * Plain CDK entry (see cdk.json), deployed by LocalStack and usable against AWS:
 *   npx cdk synth -c stage=local [-c rds=true] [-c alarmEmail=a@b.c] [-c nag=false]
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
