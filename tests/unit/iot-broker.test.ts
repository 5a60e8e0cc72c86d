/**
 * The local IoT broker (localstack/iot-broker.ts) on its own: TLS with the generated certificate, the
 * SigV4-presigned URL real IoT requires, the MQTT-over-WebSocket subprotocol, and a CONNECT answered.
 * The live Lambda round trip through it is tests/localstack/sst-dev.test.ts.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import mqttPacket from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { BrokerListenError, type IotBroker, startIotBroker } from "../../localstack/iot-broker.ts";

const SIGNED =
  "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20261207%2Fus-east-1%2Fiotdevicegateway%2Faws4_request" +
  "&X-Amz-Date=20261207T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00";

let dir: string;
let broker: IotBroker;
let ca: Buffer;

beforeAll(async () => {
  // The certificate localstack/start.sh makes, made the same way.
  dir = mkdtempSync(path.join(tmpdir(), "weather-iot-"));
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-days", "1", "-subj", "/CN=weather-dataops test IoT", "-addext", "subjectAltName=IP:127.0.0.1"],
      ...["-addext", "basicConstraints=critical,CA:TRUE"],
      ...["-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")],
    ],
    { stdio: "ignore" },
  );
  ca = readFileSync(path.join(dir, "cert.pem"));
  broker = await startIotBroker({ address: "127.0.0.1", certDir: dir, port: 0 });
});

afterAll(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a WebSocket and reports how the handshake ended. */
function open(
  url: string,
  opts: WebSocket.ClientOptions,
): Promise<{ socket?: WebSocket; status?: number; error?: string }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, ["mqttv3.1"], opts);
    socket.on("open", () => resolve({ socket }));
    socket.on("unexpected-response", (_req, res) => resolve({ status: res.statusCode }));
    socket.on("error", (e) => resolve({ error: e.message }));
  });
}

describe("the local IoT broker", () => {
  it("refuses a client that does not trust its certificate", async () => {
    const result = await open(`${broker.url}?${SIGNED}`, {});
    expect(result.error).toMatch(/self[- ]signed certificate/);
  });

  it("refuses a connection without a SigV4-presigned URL for iotdevicegateway, with 403", async () => {
    expect((await open(broker.url, { ca })).status).toBe(403);
    const otherService = SIGNED.replace("iotdevicegateway", "execute-api");
    expect((await open(`${broker.url}?${otherService}`, { ca })).status).toBe(403);
  });

  it("a second broker on a taken address fails with a BrokerListenError naming the remedy, not a crash", async () => {
    const port = Number(new URL(broker.url).port);
    await expect(startIotBroker({ address: "127.0.0.1", certDir: dir, port })).rejects.toThrow(
      new BrokerListenError(
        `127.0.0.1:${port} is taken (another sst dev broker?); stop it or start LocalStack with another ` +
          "LOCALSTACK_IOT_ADDRESS (any 127.x.y.z)",
      ),
    );
  });

  it("accepts a presigned URL on the mqttv3.1 subprotocol and answers an MQTT CONNECT", async () => {
    // Act
    const { socket } = await open(`${broker.url}?${SIGNED}`, { ca });
    expect(socket?.protocol).toBe("mqttv3.1");
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const connack = new Promise<mqttPacket.Packet>((resolve) => parser.on("packet", resolve));
    socket?.on("message", (data: Buffer) => parser.parse(data));
    socket?.send(
      mqttPacket.generate({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 4,
        clean: true,
        clientId: "weather-test",
        keepalive: 10,
      }),
    );
    // Assess
    expect(await connack).toMatchObject({ cmd: "connack", returnCode: 0 });
    socket?.close();
  });
});
