/**
 * What every function is: the constructs describe each as a {@link FunctionSpec} and call a
 * {@link FunctionFactory}; the SST app's factory (sst-function-factory.ts) builds SST's `Function`, so
 * `sst dev` can swap in live Lambda. Bundle settings shared with bench:bundle live here.
 */
import type { Duration } from "aws-cdk-lib";
import type { IRole } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { ILogGroup } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";

/** esbuild target matching the functions' runtime, nodejs24.x. */
export const ESBUILD_TARGET = "node24";

export interface BundledFile {
  /** Source path relative to the project root (a file or a directory). */
  from: string;
  /** Destination relative to the bundle root (Lambda's cwd, /var/task)... */
  to: string;
  /** ...or, when set, relative to the handler's own directory (code that resolves `import.meta.url`). */
  besideHandler?: boolean;
}

/**
 * Where a bundle carries the sites list: the same path as in the source tree, because SITES_FILE is
 * read relative to the cwd, which is the bundle root on Lambda but the project root under `sst dev`
 * (its workers run the handler from .sst/artifacts with the cwd unchanged).
 */
export const SITES_FILE_IN_BUNDLE = "config/sites.json";

/**
 * Files every bundle carries: the sites list and the SQL models with their check declarations
 * (core/sql/files.ts looks for `./sql` next to the bundled handler).
 */
export const BUNDLED_FILES: readonly BundledFile[] = [
  { from: "config/sites.json", to: SITES_FILE_IN_BUNDLE },
  { from: "sql/models", to: "sql/models", besideHandler: true },
];

/**
 * Module substitutions for Lambda bundles, paths relative to the project root (esbuild's working
 * directory in every build): the SDK's credential chain becomes the environment provider Lambda needs
 * (see functions/shared/lambda-credentials.ts). The SST factory and bench:bundle build with these.
 */
export const LAMBDA_ALIASES: Readonly<Record<string, string>> = {
  "@aws-sdk/credential-provider-node": "./functions/shared/lambda-credentials.ts",
};

export interface FunctionSpec {
  /** Entry file relative to the project root, e.g. `functions/ingest.ts`; it exports `handler`. */
  entry: string;
  description: string;
  memorySize: number;
  timeout: Duration;
  environment: Record<string, string>;
  /** Explicit log group (with retention) instead of the `logRetention` custom resource. */
  logGroup: ILogGroup;
  /** A role built by the caller, so permissions are exactly the grants the constructs add. */
  role: IRole;
}

export type FunctionFactory = (scope: Construct, id: string, spec: FunctionSpec) => IFunction;
