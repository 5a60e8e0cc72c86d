/**
 * The function factory: SST's `Function`, so `sst dev` swaps in live Lambda (the bridge function,
 * localstack/iot-broker.ts on the local cloud) and `sst deploy` builds with SST's esbuild pipeline.
 */
import { posix } from "node:path";
import { Function as SstFunction } from "sst/constructs";
import { BUNDLED_FILES, ESBUILD_TARGET, type FunctionFactory, LAMBDA_ALIASES } from "./function-factory.ts";

export function sstFunctionFactory(): FunctionFactory {
  return (scope, id, spec) =>
    new SstFunction(scope, id, {
      // SST resolves handlers from the project root: `functions/ingest.handler`.
      handler: `${spec.entry.replace(/\.ts$/, "")}.handler`,
      runtime: "nodejs24.x",
      architecture: "arm_64",
      description: spec.description,
      memorySize: spec.memorySize,
      timeout: spec.timeout.toSeconds(),
      role: spec.role,
      logGroup: spec.logGroup,
      environment: spec.environment,
      // Active tracing would add xray:* on Resource "*" to every role.
      tracing: "disabled",
      // SST keeps the source layout (functions/ingest.mjs), so "beside the handler" is functions/….
      copyFiles: BUNDLED_FILES.map((f) => ({
        from: f.from,
        to: f.besideHandler ? posix.join(posix.dirname(spec.entry), f.to) : f.to,
      })),
      nodejs: {
        format: "esm",
        minify: true,
        sourcemap: true,
        // No banner: SST's ESM output already defines `require` (a second one is a SyntaxError).
        // pg-native: SST force-externalizes it and then runs `npm install` into the bundle whenever pg
        // references it; pg only loads it on `pg.native`, which we never use, so keep it external.
        esbuild: { target: ESBUILD_TARGET, external: ["pg-native"], alias: { ...LAMBDA_ALIASES } },
      },
    });
}
