/**
 * The AWS SDK's credential chain, as a Lambda bundle needs it. Lambda (and LocalStack's host executor,
 * and `sst dev`'s local worker) hand the function its role's credentials in the environment, so the
 * default chain's SSO, INI-file, process, web-identity and instance-metadata providers — about 110 KB
 * of the ingest bundle, and their load time at every cold start — are never used there.
 *
 * Bundles alias `@aws-sdk/credential-provider-node` to this module (LAMBDA_ALIASES in
 * stacks/constructs/function-factory.ts); the CLI and tests keep the full chain.
 */
import { fromEnv } from "@aws-sdk/credential-provider-env";

/** Same name and shape as the module it stands in for. */
export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
