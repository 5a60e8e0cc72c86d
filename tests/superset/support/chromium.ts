/**
 * Headless Chromium (Debian's `chromium`) driven over the DevTools protocol: just enough to log in
 * through a page, open a dashboard, read the DOM and network responses, and take a full-page PNG.
 * The browser may resolve only loopback names, so nothing it loads leaves this machine.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Chromium did not start or a DevTools command failed; the message carries Chromium's own words. */
export class ChromiumError extends Error {
  constructor(message: string) {
    super(`${message} (is Debian's chromium installed? apt-get install -y chromium)`);
    this.name = "ChromiumError";
  }
}

type CdpEvent = { method: string; params: Record<string, unknown>; sessionId?: string };

/** One page (target) of the browser. */
export interface Page {
  send<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Evaluates `expression` in the page (awaiting a promise) and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  /** Navigates and resolves on the load event. */
  goto(url: string): Promise<void>;
  /** Every event of this page, in order, since the page opened. */
  events: CdpEvent[];
  /** Grows the viewport to the page's full height, so nothing renders lazily or off-screen. */
  fitToContent(): Promise<void>;
  /** A PNG of the viewport. */
  screenshot(): Promise<Buffer>;
}

function waitForDevtoolsUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new ChromiumError(`no DevTools URL within 30 s: ${err}`)), 30_000);
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new ChromiumError(`cannot start ${CHROMIUM}: ${e.message}`));
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new ChromiumError(`chromium exited with ${code}: ${err.slice(-2000)}`));
    });
  });
}

/**
 * Starts a throw-away headless Chromium with one page of `width` × `height` CSS pixels, runs `fn`,
 * and always stops the browser and removes its profile.
 */
export async function withPage<T>(
  opts: { width: number; height: number },
  fn: (page: Page) => Promise<T>,
): Promise<T> {
  const profile = await mkdtemp(join(tmpdir(), "wdo-chromium-"));
  const child = spawn(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--no-first-run",
      "--no-default-browser-check",
      "--hide-scrollbars",
      // Names other than loopback resolve nowhere: no telemetry, fonts or tiles from the internet.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      `--window-size=${opts.width},${opts.height}`,
      "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let ws: WebSocket | undefined;
  try {
    const url = await waitForDevtoolsUrl(child);
    const socket = new WebSocket(url, { perMessageDeflate: false });
    ws = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    let nextId = 1;
    const pending = new Map<
      number,
      { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string }
    >();
    const events: CdpEvent[] = [];
    const listeners = new Set<(e: CdpEvent) => void>();
    socket.on("message", (data: WebSocket.RawData) => {
      const msg = JSON.parse(data.toString()) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      } & Partial<CdpEvent>;
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new ChromiumError(`${p.method}: ${msg.error.message}`));
        else p?.resolve(msg.result);
      } else if (msg.method) {
        const e = { method: msg.method, params: msg.params ?? {}, sessionId: msg.sessionId };
        events.push(e);
        for (const l of listeners) l(e);
      }
    });
    const call = <T>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
        socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
      });

    const { targetId } = await call<{ targetId: string }>("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await call<{ sessionId: string }>("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const send = <T>(method: string, params: Record<string, unknown> = {}) =>
      call<T>(method, params, sessionId);
    const pageEvents: CdpEvent[] = [];
    listeners.add((e) => {
      if (e.sessionId === sessionId) pageEvents.push(e);
    });
    await send("Page.enable");
    await send("Network.enable");
    await send("Runtime.enable");
    await send("Emulation.setDeviceMetricsOverride", {
      width: opts.width,
      height: opts.height,
      deviceScaleFactor: 1,
      mobile: false,
    });

    const page: Page = {
      send,
      events: pageEvents,
      async evaluate<R>(expression: string): Promise<R> {
        const r = await send<{ result: { value: R }; exceptionDetails?: { text: string } }>(
          "Runtime.evaluate",
          {
            expression,
            awaitPromise: true,
            returnByValue: true,
          },
        );
        if (r.exceptionDetails)
          throw new ChromiumError(`page script failed: ${JSON.stringify(r.exceptionDetails)}`);
        return r.result.value;
      },
      async goto(url: string): Promise<void> {
        const loaded = new Promise<void>((resolve) => {
          const l = (e: CdpEvent) => {
            if (e.sessionId === sessionId && e.method === "Page.loadEventFired") {
              listeners.delete(l);
              resolve();
            }
          };
          listeners.add(l);
        });
        const r = await send<{ errorText?: string }>("Page.navigate", { url });
        if (r.errorText) throw new ChromiumError(`cannot open ${url}: ${r.errorText}`);
        await loaded;
      },
      async fitToContent(): Promise<void> {
        const m = await send<{ cssContentSize: { width: number; height: number } }>("Page.getLayoutMetrics");
        await send("Emulation.setDeviceMetricsOverride", {
          width: opts.width,
          height: Math.max(opts.height, Math.ceil(m.cssContentSize.height)),
          deviceScaleFactor: 1,
          mobile: false,
        });
      },
      async screenshot(): Promise<Buffer> {
        const { data } = await send<{ data: string }>("Page.captureScreenshot", { format: "png" });
        return Buffer.from(data, "base64");
      },
    };
    return await fn(page);
  } finally {
    ws?.close();
    await stop(child);
    await rm(profile, { recursive: true, force: true });
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
