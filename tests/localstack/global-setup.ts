import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { localstackDir, stateDir } from "./helpers/localstack.ts";

/**
 * Starts LocalStack for the suite unless one started by `npm run local:start` is already running, and
 * stops only what it started.
 */
export default function setup(): () => void {
  const alreadyRunning = existsSync(`${stateDir}/localstack.pid`);
  execFileSync(`${localstackDir}/start.sh`, { stdio: ["ignore", "inherit", "inherit"] });
  return () => {
    if (!alreadyRunning) {
      execFileSync(`${localstackDir}/stop.sh`, { stdio: ["ignore", "inherit", "inherit"] });
    }
  };
}
