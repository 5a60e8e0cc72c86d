/**
 * One writer per embedded database directory. PGlite assumes it owns its data directory; two
 * processes opening the same one each replay and flush their own copy of the state, and the last to
 * flush silently discards the other's rows. So a process takes this lock before it opens
 * WEATHER_HOME/pg and a second process waits for the first (bounded), then proceeds.
 *
 * The lock is `proper-lockfile`'s: an atomic `mkdir` of `<dir>.lock`, whose mtime the holder
 * refreshes. Beside it the holder writes `<dir>.owner.json` (pid, host, command), which makes the
 * waiting message useful and lets a waiter on the same host take over at once from a holder that
 * died (kill -9, OOM, power loss) instead of waiting out the mtime threshold — and, as importantly,
 * never take over from a live holder whose event loop is merely busy (PGlite runs queries on the
 * main thread, so a long transform can delay the mtime refresh for many seconds).
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import lockfile from "proper-lockfile";
import { isAlive } from "./process-alive.ts";

/** Who holds (or last held) the lock, as its holder recorded it. */
export interface LockHolder {
  pid: number;
  hostname: string;
  command: string;
  since: string;
}

export interface HomeLock {
  /** Where the lock directory is (remove it by hand only when no weather process is running). */
  readonly lockPath: string;
  release(): Promise<void>;
}

export interface HomeLockOptions {
  /** Give up after this long; 0 tries once. */
  waitMs: number;
  /**
   * Called when waiting starts, when the lock changes hands, and about every `noticeEveryMs`, for a
   * progress message.
   */
  onWait?: (info: {
    holder: LockHolder | undefined;
    first: boolean;
    /** Another process took the lock while this one waited. */
    holderChanged: boolean;
    waitedMs: number;
    waitMs: number;
  }) => void;
  /** The holder's own lock was taken over (its refresh failed for longer than the threshold). */
  onCompromised?: (error: HomeLockCompromisedError) => void;
  /** The command recorded for other processes' waiting messages. */
  command?: string;
  pollMs?: number;
  noticeEveryMs?: number;
}

/** The holder refreshes the lock's mtime this often. */
const UPDATE_MS = 2_000;
/**
 * A lock whose holder cannot be checked (another host, or no owner record) counts as abandoned once
 * its mtime is this old. Generous, because a busy event loop delays the refresh.
 */
const STALE_MS = 60_000;
/** proper-lockfile's smallest threshold: a dead local holder's lock is taken over this soon. */
const DEAD_HOLDER_STALE_MS = 2_000;
const NEVER_STALE = Number.MAX_SAFE_INTEGER;

export class HomeLockTimeoutError extends Error {
  override name = "HomeLockTimeoutError";
}

export class HomeLockCompromisedError extends Error {
  override name = "HomeLockCompromisedError";
}

/**
 * Takes the single-writer lock for an embedded database directory, waiting up to `opts.waitMs` for
 * another process to release it. Throws {@link HomeLockTimeoutError} when the wait runs out.
 */
export async function acquireHomeLock(dataDir: string, opts: HomeLockOptions): Promise<HomeLock> {
  const lockPath = `${dataDir}.lock`;
  const ownerPath = `${dataDir}.owner.json`;
  const pollMs = opts.pollMs ?? 250;
  const noticeEveryMs = opts.noticeEveryMs ?? 30_000;
  await mkdir(dirname(dataDir), { recursive: true });

  const started = Date.now();
  let lastNotice: number | undefined;
  let noticedPid: number | undefined;
  for (;;) {
    const holder = await readHolder(ownerPath);
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lockfile.lock(dataDir, {
        lockfilePath: lockPath,
        realpath: false,
        stale: staleThreshold(holder),
        update: UPDATE_MS,
        onCompromised: (e) => {
          const error = new HomeLockCompromisedError(
            `Lost the lock on ${dataDir} (${e.message}); another process may now be writing it. ` +
              "Stopping to avoid two writers; rerun the command (ingestion and transforms are idempotent).",
          );
          if (opts.onCompromised) opts.onCompromised(error);
          else throw error;
        },
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ELOCKED") throw e;
    }
    if (release) {
      const releaseLock = release;
      const mine: LockHolder = {
        pid: process.pid,
        hostname: hostname(),
        command: (opts.command ?? process.argv.slice(2).join(" ")).slice(0, 200),
        since: new Date().toISOString(),
      };
      await writeFile(`${ownerPath}.${process.pid}.tmp`, JSON.stringify(mine));
      await rename(`${ownerPath}.${process.pid}.tmp`, ownerPath);
      let released = false;
      return {
        lockPath,
        async release() {
          if (released) return;
          released = true;
          // Owner record first: a waiter that sees the lock without an owner falls back to the mtime.
          await rm(ownerPath, { force: true });
          await releaseLock();
        },
      };
    }

    const waitedMs = Date.now() - started;
    if (holder && holder.pid === process.pid && holder.hostname === hostname())
      throw new HomeLockTimeoutError(
        `This process already holds ${lockPath}; open the embedded database once per process.`,
      );
    if (waitedMs >= opts.waitMs)
      throw new HomeLockTimeoutError(
        `Gave up after ${Math.round(waitedMs / 1000)} s waiting for ${describeHolder(holder)} to release the ` +
          `embedded database ${dataDir}. Let it finish and rerun, or raise WEATHER_LOCK_WAIT_MS; only if no ` +
          `weather process is running, remove ${lockPath}.`,
      );
    // A new holder (the lock changed hands while we waited) is news; a missing record is not.
    const holderChanged = holder !== undefined && noticedPid !== undefined && holder.pid !== noticedPid;
    if (lastNotice === undefined || holderChanged || Date.now() - lastNotice >= noticeEveryMs) {
      opts.onWait?.({
        holder,
        first: lastNotice === undefined,
        holderChanged,
        waitedMs,
        waitMs: opts.waitMs,
      });
      lastNotice = Date.now();
      noticedPid = holder?.pid ?? noticedPid;
    }
    await new Promise((r) => setTimeout(r, Math.min(pollMs, opts.waitMs - waitedMs)));
  }
}

/** "pid 123 on host (weather run ...)", or what is known when the holder left no record. */
function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return "another process";
  const where = holder.hostname === hostname() ? "" : ` on ${holder.hostname}`;
  return `the process holding it (pid ${holder.pid}${where}${holder.command ? `, "weather ${holder.command}"` : ""}, since ${holder.since})`;
}

function staleThreshold(holder: LockHolder | undefined): number {
  if (!holder || holder.hostname !== hostname()) return STALE_MS;
  return isAlive(holder.pid) ? NEVER_STALE : DEAD_HOLDER_STALE_MS;
}

async function readHolder(ownerPath: string): Promise<LockHolder | undefined> {
  try {
    const doc = JSON.parse(await readFile(ownerPath, "utf8")) as Partial<LockHolder>;
    if (typeof doc.pid !== "number" || typeof doc.hostname !== "string") return undefined;
    return { pid: doc.pid, hostname: doc.hostname, command: doc.command ?? "", since: doc.since ?? "?" };
  } catch {
    return undefined; // absent, or half-written by a holder that died: fall back to the mtime rule
  }
}
