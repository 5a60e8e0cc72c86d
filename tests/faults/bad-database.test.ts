/**
 * Fault: a misconfigured or unreachable database at startup (issue 10, item 9). Each case exits 2
 * with a message naming DATABASE_URL / --db and what to fix, never the password, within the connect
 * timeout — instead of exit 1 with raw driver text.
 */
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { weather } from "./support/cli.ts";
import { freePort, type PrivatePostgres, startPrivatePostgres } from "./support/private-postgres.ts";

const PASSWORD = "s3cret-Pa55word";

let server: PrivatePostgres;
let http: HttpServer;
let silent: Server;
const sockets: Socket[] = [];
const portOf = (s: HttpServer | Server) => (s.address() as { port: number }).port;

beforeAll(async () => {
  server = await startPrivatePostgres();
  http = createHttpServer((_req, res) => res.end("hello"));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  // Accepts connections and never says a word.
  silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent?.close(r));
  await new Promise((r) => http?.close(r));
  await server?.destroy();
});

async function expectConfigExit(url: string, message: RegExp, env: Record<string, string> = {}) {
  const result = await weather(["status", "--db", url, "--json"], { env });
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr).toMatch(/DATABASE_URL \/ --db/);
  expect(result.stderr).toMatch(message);
  expect(result.stderr + result.stdout).not.toContain(PASSWORD);
  return result;
}

describe("a database the startup probe cannot use", () => {
  it("exits 2 on a refused port", async () => {
    const port = await freePort();
    await expectConfigExit(
      `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
      /connection refused/,
    );
  });

  it("exits 2 on an unknown role", async () => {
    await expectConfigExit(
      `postgres://nobody:${PASSWORD}@127.0.0.1:${server.port}/postgres`,
      /authentication failed for role "nobody"/,
    );
  });

  it("exits 2 on a missing database", async () => {
    await expectConfigExit(
      `postgres://postgres:${PASSWORD}@127.0.0.1:${server.port}/no_such_db`,
      /database "no_such_db" does not exist/,
    );
  });

  it("exits 2 on a server that is not Postgres (an HTTP port)", async () => {
    await expectConfigExit(
      `postgres://postgres:${PASSWORD}@127.0.0.1:${portOf(http)}/postgres`,
      /closed the connection during the startup handshake/,
    );
  });

  it("exits 2 within the connect timeout on a server that never answers", async () => {
    await expectConfigExit(
      `postgres://postgres:${PASSWORD}@127.0.0.1:${portOf(silent)}/postgres`,
      /no answer from 127\.0\.0\.1:\d+ within 1000 ms \(DB_CONNECT_TIMEOUT_MS\)/,
      { DB_CONNECT_TIMEOUT_MS: "1000" },
    );
  });

  it("still runs against the right URL (the probe passes)", async () => {
    const url = await server.createDatabase("ok");
    const result = await weather(["status", "--db", url, "--json"]);
    expect(result.code, result.stderr).toBe(0);
  });
});
