/**
 * `sst dev --stage local` on the local cloud: SST's live Lambda with LocalStack standing in for AWS IoT.
 * Each deployed function becomes SST's bridge, which forwards every invocation over MQTT to the `sst dev`
 * process; that process runs the handler from the working tree (rebuilt when a source file changes) and
 * sends the result back. LocalStack answers the bridge's and the CLI's IoT `DescribeEndpoint` with a
 * loopback address (localstack/executor/weather_host_executor/iot_provider.py), where
 * localstack/iot-broker.ts carries the messages. Used by `npm run dev:local` (localstack/dev.ts) and the
 * LocalStack suite (tests/localstack/sst-dev.test.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { DescribeEndpointCommand, IoTClient } from "@aws-sdk/client-iot";
import {
  clientConfig,
  ENDPOINT,
  LocalDeployError,
  REPO_ROOT,
  STAGE,
  type StackKnobs,
  sstEnv,
} from "./local-cloud.ts";

/** Where localstack/start.sh keeps LocalStack's state, and the IoT certificate under it. */
export const STATE_DIR = process.env.LOCALSTACK_STATE_DIR ?? path.join(REPO_ROOT, ".weather/localstack");

/**
 * The IoT data endpoint LocalStack hands out, which is where the broker must listen. Fails with a
 * remedy when this LocalStack has no `iot` service (started before the provider existed).
 */
export async function iotEndpointAddress(): Promise<string> {
  const iot = new IoTClient(clientConfig);
  try {
    const out = await iot.send(new DescribeEndpointCommand({ endpointType: "iot:Data-ATS" }));
    if (!out.endpointAddress) throw new Error("DescribeEndpoint returned no endpointAddress");
    return out.endpointAddress;
  } catch (e) {
    throw new LocalDeployError(
      `LocalStack at ${ENDPOINT} has no working iot service (${(e as Error).message}); restart it with ` +
        "npm run local:stop && npm run local:start, which loads the project's iot provider.",
    );
  } finally {
    iot.destroy();
  }
}

export interface SstDev {
  child: ChildProcess;
  /** Everything `sst dev` printed so far. */
  output(): string;
  /** Resolves with the exit code when `sst dev` ends. */
  exited: Promise<number | null>;
  /** Stops `sst dev` (SIGINT, as Ctrl-C; SIGKILL after 10 s) and waits for it. */
  stop(): Promise<void>;
}

export interface SstDevOptions {
  knobs: StackKnobs;
  /** The broker's certificate, trusted by `sst dev` through NODE_EXTRA_CA_CERTS. */
  caFile: string;
  /** The SST project to run in (default: this repository). */
  cwd?: string;
  /** Copy `sst dev`'s output to this process's stdout and stderr as it comes. */
  echo?: boolean;
}

export function startSstDev(opts: SstDevOptions): SstDev {
  const cwd = opts.cwd ?? REPO_ROOT;
  const child = spawn(path.join(cwd, "node_modules/.bin/sst"), ["dev", "--stage", STAGE], {
    cwd,
    env: { ...sstEnv(opts.knobs), NODE_EXTRA_CA_CERTS: opts.caFile },
    stdio: ["ignore", "pipe", "pipe"],
    // A process group of its own, so stopping it also stops the function workers it started.
    detached: true,
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    if (opts.echo) process.stdout.write(chunk);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    if (opts.echo) process.stderr.write(chunk);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  return {
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal("SIGINT");
      const timer = setTimeout(() => signal("SIGKILL"), 10_000);
      await exited.catch(() => null);
      clearTimeout(timer);
    },
  };
}
