/**
 * Builds the plain CDK app (NodejsFunction) that tests and LocalStack deploy. `sst.config.ts` wires
 * the same constructs through SST stack functions instead.
 */
import { fileURLToPath } from "node:url";
import { App, Aspects, Stack, type StackProps } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { nodejsFunctionFactory } from "./constructs/function-factory.ts";
import { StatefulResources } from "./constructs/stateful.ts";
import { StatelessResources } from "./constructs/stateless.ts";
import { type StageSettings, settingsFromContext } from "./settings.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface BuildOptions {
  stage: string;
  overrides?: Partial<StageSettings>;
  /** Cloud assembly directory (tests synth to a temp dir); ignored when `app` is given. */
  outdir?: string;
  /** An existing app (the CLI entry creates it to read `-c` context first). */
  app?: App;
  /** Apply cdk-nag AwsSolutions (errors and warnings become annotations). */
  nag?: boolean;
  projectRoot?: string;
  env?: StackProps["env"];
}

export interface BuiltApp {
  app: App;
  settings: StageSettings;
  statefulStack: Stack;
  statelessStack: Stack;
  stateful: StatefulResources;
  stateless: StatelessResources;
}

/** Stack names of the plain CDK app, e.g. `weather-dataops-local-stateful`. */
export function stackNames(stage: string) {
  return { stateful: `weather-dataops-${stage}-stateful`, stateless: `weather-dataops-${stage}-stateless` };
}

export function buildApp(opts: BuildOptions): BuiltApp {
  const projectRoot = opts.projectRoot ?? PROJECT_ROOT;
  const app = opts.app ?? new App(opts.outdir ? { outdir: opts.outdir } : {});
  const settings = settingsFromContext(opts.stage, app.node, opts.overrides);
  const names = stackNames(settings.stage);
  const statefulStack = new Stack(app, names.stateful, {
    env: opts.env,
    description: `weather-dataops ${settings.stage}: raw bucket, secrets, alarm topic${settings.rds ? ", RDS Postgres" : ""}`,
  });
  const stateful = new StatefulResources(statefulStack, "Data", { settings });
  const statelessStack = new Stack(app, names.stateless, {
    env: opts.env,
    description: `weather-dataops ${settings.stage}: functions, schedule, workflow, alarms`,
  });
  const stateless = new StatelessResources(statelessStack, "Pipeline", {
    settings,
    stateful,
    functionFactory: nodejsFunctionFactory({ projectRoot }),
    projectRoot,
  });
  statelessStack.addDependency(statefulStack);
  if (opts.nag) Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, settings, statefulStack, statelessStack, stateful, stateless };
}
