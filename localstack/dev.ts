/**
 * `npm run dev:local`, after scripts/local-up.sh brought up LocalStack, the simulator and the deployed
 * app: live Lambda on the local cloud. Starts the IoT broker where LocalStack's DescribeEndpoint points
 * (localstack/iot-broker.ts), then `sst dev --stage local` with the same stack knobs as the deploy.
 * Every invocation of a deployed function (the schedule's, the workflow's, `aws lambda invoke`) then
 * runs the handler from this working tree; edit a file under functions/ or core/ and the next
 * invocation runs the new code, without a redeploy. Ctrl-C stops both; `npm run local:up` puts the
 * deployed functions back.
 *
 * Port 443 (the only port the AWS IoT device SDK dials) needs root, or once:
 * `sudo sysctl net.ipv4.ip_unprivileged_port_start=443`.
 */
import path from "node:path";
import { BrokerListenError, iotCertDir, startIotBroker } from "./iot-broker.ts";
import { knobsFromEnv, LocalDeployError } from "./local-cloud.ts";
import { iotEndpointAddress, STATE_DIR, startSstDev } from "./sst-dev.ts";

const log = (line: string) => process.stderr.write(`dev:local: ${line}\n`);

try {
  const address = await iotEndpointAddress();
  const certDir = iotCertDir(STATE_DIR);
  const broker = await startIotBroker({
    address,
    certDir,
    log: (line, fields) => {
      if (process.env.WEATHER_IOT_DEBUG) log(`broker: ${line} ${JSON.stringify(fields ?? {})}`);
    },
  });
  log(`IoT broker on ${broker.url} (certificate ${path.join(certDir, "cert.pem")})`);
  const { simulatorUrl: _, ...knobs } = knobsFromEnv();
  const dev = startSstDev({ knobs, caFile: path.join(certDir, "cert.pem"), echo: true });
  let stopped = false;
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => {
      stopped = true;
      void dev.stop();
    });
  const code = await dev.exited;
  await broker.close();
  log(
    `sst dev ${stopped ? "stopped" : `exited (${code})`}; the functions are still SST's bridge: ` +
      "npm run local:up deploys them again",
  );
  process.exitCode = stopped ? 0 : (code ?? 1);
} catch (e) {
  if (!(e instanceof LocalDeployError || e instanceof BrokerListenError)) throw e;
  log((e as Error).message);
  process.exitCode = 1;
}
