/**
 * The AWS IoT data plane `sst dev` needs, on loopback: an MQTT broker (aedes) behind a WebSocket server
 * (ws) on https://<address>:443/mqtt, the URL the AWS IoT device SDK opens for the endpoint LocalStack's
 * `iot` provider returns (localstack/executor/weather_host_executor/iot_provider.py). Both ends of SST's
 * live Lambda speak through it: the `sst dev` CLI and the bridge function each deployed function becomes.
 *
 * TLS: the device SDK always uses wss on port 443 and Node verifies the certificate, so the broker serves
 * the self-signed certificate localstack/start.sh generated into the state directory, which every client
 * trusts through NODE_EXTRA_CA_CERTS (start.sh hands it to the function processes; localstack/dev.ts to
 * `sst dev`). Port 443 needs root or `sysctl net.ipv4.ip_unprivileged_port_start=443`.
 *
 * Like real IoT, a connection must carry a SigV4-presigned query (service `iotdevicegateway`); as
 * everywhere in LocalStack, the signature itself is not verified.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import path from "node:path";
import { Aedes } from "aedes";
import { createWebSocketStream, WebSocketServer } from "ws";

/** The broker could not listen where DescribeEndpoint points (privileged port, or taken). */
export class BrokerListenError extends Error {
  override name = "BrokerListenError";
}

export interface IotBroker {
  url: string;
  close(): Promise<void>;
}

export interface IotBrokerOptions {
  /** The loopback address LocalStack's DescribeEndpoint returns (LOCALSTACK_IOT_ADDRESS, 127.0.0.1). */
  address: string;
  /** The directory holding cert.pem and key.pem (start.sh: <LocalStack state>/iot). */
  certDir: string;
  /** 443 is what the device SDK dials; tests of the broker itself use 0 (any free port). */
  port?: number;
  log?: (line: string, fields?: Record<string, unknown>) => void;
}

/** The certificate files start.sh writes for a LocalStack state directory. */
export function iotCertDir(stateDir: string): string {
  return path.join(stateDir, "iot");
}

export async function startIotBroker(opts: IotBrokerOptions): Promise<IotBroker> {
  const log = opts.log ?? (() => {});
  const port = opts.port ?? 443;
  const broker = await Aedes.createBroker();
  const server: Server = createServer({
    cert: readFileSync(path.join(opts.certDir, "cert.pem")),
    key: readFileSync(path.join(opts.certDir, "key.pem")),
  });
  const wss = new WebSocketServer({
    server,
    path: "/mqtt",
    // The device SDK asks for `mqttv3.1`; MQTT.js clients ask for `mqtt`.
    handleProtocols: (protocols) => ["mqttv3.1", "mqtt"].find((p) => protocols.has(p)) ?? false,
    verifyClient: ({ req }, done) => {
      const query = new URL(req.url ?? "/", "https://broker").searchParams;
      const credential = query.get("X-Amz-Credential") ?? "";
      if (query.get("X-Amz-Signature") && credential.includes("/iotdevicegateway/")) return done(true);
      log("refused an unsigned connection", { url: req.url?.split("?")[0] });
      done(false, 403, "Forbidden: a SigV4-presigned URL for iotdevicegateway is required");
    },
  });
  // ws re-emits the https server's errors on the WebSocketServer: without a listener an EADDRINUSE
  // crashed the process instead of rejecting the listen below (seen; tests/unit/iot-broker.test.ts).
  wss.on("error", (e) => log("server error", { error: e.message }));
  wss.on("connection", (socket, req) => {
    broker.handle(createWebSocketStream(socket) as never, req as never);
  });
  broker.on("client", (client) => log("client connected", { client: client.id }));
  broker.on("clientDisconnect", (client) => log("client disconnected", { client: client.id }));
  broker.on("subscribe", (subs, client) =>
    log("subscribed", { client: client?.id, topics: subs.map((s) => s.topic) }),
  );
  broker.on("clientError", (client, err) => log("client error", { client: client.id, error: err.message }));

  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "EACCES"
          ? new BrokerListenError(
              `cannot listen on ${opts.address}:${port}: ports below 1024 need root, or ` +
                `sudo sysctl net.ipv4.ip_unprivileged_port_start=${port}`,
            )
          : e.code === "EADDRINUSE"
            ? new BrokerListenError(
                `${opts.address}:${port} is taken (another sst dev broker?); stop it or start LocalStack ` +
                  "with another LOCALSTACK_IOT_ADDRESS (any 127.x.y.z)",
              )
            : e,
      ),
    );
    server.listen(port, opts.address, resolve);
  });
  const bound = (server.address() as { port: number }).port;
  return {
    url: `wss://${opts.address}:${bound}/mqtt`,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
