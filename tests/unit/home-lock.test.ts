/**
 * The single-writer lock across real processes: a holder in a child process, a waiter here.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireHomeLock, HomeLockTimeoutError, type LockHolder } from "#core/adapters/home-lock.ts";

let home: string;
let holder: ChildProcess | undefined;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "wdo-lock-"));
});
afterEach(async () => {
  if (holder && holder.exitCode === null && holder.signalCode === null) {
    holder.kill("SIGKILL");
    await once(holder, "exit");
  }
  holder = undefined;
  await rm(home, { recursive: true, force: true });
});

/** Starts a process that takes the lock, says "locked", and holds it until killed or told to exit. */
async function startHolder(dataDir: string): Promise<ChildProcess> {
  const adapter = resolve("core/adapters/home-lock.ts");
  const code = `
    const { acquireHomeLock } = await import(${JSON.stringify(adapter)});
    const lock = await acquireHomeLock(${JSON.stringify(dataDir)}, { waitMs: 0, command: "holder" });
    process.stdout.write("locked\\n");
    process.stdin.on("data", async () => { await lock.release(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    out += chunk.toString();
    if (out.includes("locked")) break;
  }
  return child;
}

describe("home lock", () => {
  it("records its holder and releases the lock", async () => {
    const dataDir = join(home, "pg");
    const lock = await acquireHomeLock(dataDir, { waitMs: 0, command: "run --interval X" });
    expect((await stat(lock.lockPath)).isDirectory()).toBe(true);
    const owner = JSON.parse(await readFile(`${dataDir}.owner.json`, "utf8")) as LockHolder;
    expect(owner).toMatchObject({ pid: process.pid, command: "run --interval X" });
    await lock.release();
    await expect(stat(lock.lockPath)).rejects.toThrow(/ENOENT/);
    // Free again: a second acquisition does not wait.
    await (await acquireHomeLock(dataDir, { waitMs: 0 })).release();
  });

  it("makes a second process wait, names the holder, and gives up when the wait runs out", async () => {
    const dataDir = join(home, "pg");
    holder = await startHolder(dataDir);
    const notices: (LockHolder | undefined)[] = [];
    const attempt = acquireHomeLock(dataDir, {
      waitMs: 1_000,
      pollMs: 50,
      onWait: (w) => notices.push(w.holder),
    });
    await expect(attempt).rejects.toBeInstanceOf(HomeLockTimeoutError);
    await expect(attempt).rejects.toThrow(`pid ${holder.pid}`);
    await expect(attempt).rejects.toThrow("WEATHER_LOCK_WAIT_MS");
    expect(notices[0]).toMatchObject({ pid: holder.pid, command: "holder" });
  });

  it("proceeds as soon as the holder releases", async () => {
    const dataDir = join(home, "pg");
    holder = await startHolder(dataDir);
    let waited = false;
    const attempt = acquireHomeLock(dataDir, {
      waitMs: 60_000,
      pollMs: 50,
      onWait: () => {
        waited = true;
        holder?.stdin?.write("release\n");
      },
    });
    const lock = await attempt;
    expect(waited).toBe(true);
    const owner = JSON.parse(await readFile(`${dataDir}.owner.json`, "utf8")) as LockHolder;
    expect(owner.pid).toBe(process.pid);
    await lock.release();
  });

  it("takes over from a holder that was killed (no release, no exit handlers)", async () => {
    const dataDir = join(home, "pg");
    holder = await startHolder(dataDir);
    holder.kill("SIGKILL");
    await once(holder, "exit");
    await expect(stat(`${dataDir}.lock`)).resolves.toBeDefined(); // the dead holder's lock is still there
    // Bounded by the wait, not by a timing assertion: a dead local holder is detected by its pid.
    const lock = await acquireHomeLock(dataDir, { waitMs: 60_000, pollMs: 100 });
    await lock.release();
  });

  it("never takes over from a live holder, however old its lock looks", async () => {
    const dataDir = join(home, "pg");
    holder = await startHolder(dataDir);
    holder.kill("SIGSTOP"); // alive, but its lock refresh stops: like an event loop stuck in a long query
    try {
      const { utimes } = await import("node:fs/promises");
      const longAgo = new Date(Date.now() - 3_600_000);
      await utimes(`${dataDir}.lock`, longAgo, longAgo);
      await expect(acquireHomeLock(dataDir, { waitMs: 500, pollMs: 50 })).rejects.toBeInstanceOf(
        HomeLockTimeoutError,
      );
    } finally {
      holder.kill("SIGCONT");
    }
  });
});
