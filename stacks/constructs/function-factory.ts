/**
 * The constructs never choose a Lambda construct class themselves: they describe a function as a
 * {@link FunctionSpec} and call a {@link FunctionFactory}. The plain CDK app passes
 * {@link nodejsFunctionFactory} (esbuild via `NodejsFunction`); the SST app passes a factory that
 * builds SST's `Function`, so `sst dev` can swap in live Lambda.
 */
import { dirname, join } from "node:path";
import type { Duration } from "aws-cdk-lib";
import type { IRole } from "aws-cdk-lib/aws-iam";
import { Architecture, type IFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import type { ILogGroup } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";

/** Lambda runtime and architecture of every function (fixed: the bundles target them). */
export const LAMBDA_RUNTIME = Runtime.NODEJS_24_X;
export const LAMBDA_ARCHITECTURE = Architecture.ARM_64;
/** esbuild target matching {@link LAMBDA_RUNTIME}. */
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
 * Files every bundle carries: the sites list (read through SITES_FILE, relative to the cwd) and the
 * SQL models with their check declarations (core/sql/files.ts looks for `./sql` next to the bundled handler).
 */
export const BUNDLED_FILES: readonly BundledFile[] = [
  { from: "config/sites.json", to: "sites.json" },
  { from: "sql/models", to: "sql/models", besideHandler: true },
];

/**
 * ESM bundles of CommonJS dependencies (pg, parts of the AWS SDK) still call `require` for Node
 * built-ins; esbuild's ESM output needs a real `require` in scope for that.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __weatherCreateRequire } from 'node:module'; const require = __weatherCreateRequire(import.meta.url);";

/**
 * Module substitutions for Lambda bundles, paths relative to the project root (esbuild's working
 * directory in every build): the SDK's credential chain becomes the environment provider Lambda needs
 * (see functions/shared/lambda-credentials.ts). The CDK factory, the SST factory and bench:bundle all
 * build with these.
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

export interface NodejsFactoryOptions {
  /** Absolute path of the repository root (holds package.json and package-lock.json). */
  projectRoot: string;
}

/** Builds functions with `NodejsFunction`: arm64, nodejs24.x, minified ESM with source maps. */
export function nodejsFunctionFactory({ projectRoot }: NodejsFactoryOptions): FunctionFactory {
  return (scope, id, spec) =>
    new NodejsFunction(scope, id, {
      entry: join(projectRoot, spec.entry),
      handler: "handler",
      projectRoot,
      depsLockFilePath: join(projectRoot, "package-lock.json"),
      runtime: LAMBDA_RUNTIME,
      architecture: LAMBDA_ARCHITECTURE,
      description: spec.description,
      memorySize: spec.memorySize,
      timeout: spec.timeout,
      role: spec.role,
      logGroup: spec.logGroup,
      environment: { ...spec.environment, NODE_OPTIONS: "--enable-source-maps" },
      bundling: {
        format: OutputFormat.ESM,
        target: ESBUILD_TARGET,
        minify: true,
        sourceMap: true,
        // Bundle the AWS SDK v3 too: pins its version, loads faster than the runtime's copy, and lets a
        // host-process executor (LocalStack) run the bundle with no SDK on any path.
        externalModules: [],
        mainFields: ["module", "main"],
        banner: ESM_REQUIRE_BANNER,
        esbuildArgs: Object.fromEntries(
          Object.entries(LAMBDA_ALIASES).map(([from, to]) => [`--alias:${from}`, to]),
        ),
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // NodejsFunction writes the handler as index.mjs at the bundle root, so "beside the handler"
          // and "at the root" are the same place here.
          afterBundling: (inputDir: string, outputDir: string) =>
            BUNDLED_FILES.map((f) => {
              const to = join(outputDir, f.to);
              return `mkdir -p "${dirname(to)}" && cp -R "${join(inputDir, f.from)}" "${to}"`;
            }),
        },
      },
    });
}
