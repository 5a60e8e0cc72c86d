/**
 * `npm run remove:local`: `sst remove --stage local` against the running LocalStack, then a check that
 * no stack of the app is left; exits 1 with the reason otherwise (SST itself can exit 0 on failure).
 */
import { LocalDeployError, removeLocalCloud, STACKS } from "./local-cloud.ts";

const log = (line: string) => process.stderr.write(`remove:local: ${line}\n`);
try {
  await removeLocalCloud({ log });
  log(
    `removed ${Object.values(STACKS).join(" and ")}; the database stays (npm run local:down -- --drop-database)`,
  );
} catch (e) {
  if (!(e instanceof LocalDeployError)) throw e;
  log(e.message);
  process.exitCode = 1;
}
