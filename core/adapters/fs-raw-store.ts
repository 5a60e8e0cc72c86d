/**
 * Raw objects as files under a directory: the embedded default's object store.
 *
 * Append-only and atomic: each put writes a private temp file, then hard-links it to the key's path.
 * `link` fails with EEXIST instead of replacing, so a landed object is never overwritten, and a
 * crash leaves either the whole object or none. A kill or a full disk can leave a temp file behind;
 * the next put into that directory or a sibling of it (the next run of that hour) removes those whose
 * writer is gone. The directory is meant for one host (the embedded default); several hosts share raw
 * objects through S3.
 */
import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { link, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { RawStore } from "../ports.ts";
import { isAlive } from "./process-alive.ts";
import { RawObjectExistsError, RawObjectTooLargeError } from "./raw-store-errors.ts";

/** A temp file older than this is abandoned whatever its writer's pid says (pids get reused). */
const TMP_MAX_AGE_MS = 60 * 60_000;
/** `<name>.<pid>-<random>.tmp` now, `<name>.<pid>.tmp` before; the pid tells whether the writer lives. */
const TMP_RE = /\.(\d+)(?:-[0-9a-f]+)?\.tmp$/;

export function fsRawStore(root: string): RawStore {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const p = resolve(base, key);
    if (!p.startsWith(base + sep)) throw new Error(`Raw key escapes the store: ${key}`);
    return p;
  };
  const swept = new Set<string>();
  // Text and bytes land the same way: a private temp file, then a link that refuses to replace.
  const write = async (key: string, body: string | Uint8Array): Promise<void> => {
    const p = pathOf(key);
    const dir = dirname(p);
    await mkdir(dir, { recursive: true });
    if (!swept.has(dir)) {
      swept.add(dir);
      await sweepTempFiles(dir);
      // Keys name each run's objects in a directory of their own (…/interval=H/run=R/…), so a killed
      // run's leftovers sit in a sibling of the next run's directory: sweep those too.
      if (dir !== base) await sweepSiblings(dir, swept);
    }
    const tmp = `${p}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
    try {
      await writeFile(tmp, body, { flag: "wx" });
      await link(tmp, p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new RawObjectExistsError(base, key);
      throw e;
    } finally {
      // Also after a failed write (ENOSPC): never leave a partial file for the sweep to find.
      await rm(tmp, { force: true });
    }
  };
  const checkedPath = async (key: string, opts: { maxBytes?: number }): Promise<string> => {
    const p = pathOf(key);
    if (opts.maxBytes !== undefined) {
      const { size } = await stat(p);
      if (size > opts.maxBytes) throw new RawObjectTooLargeError(base, key, size, opts.maxBytes);
    }
    return p;
  };
  return {
    location: base,
    put: (key, body) => write(key, body),
    putBytes: (key, body) => write(key, body),
    async get(key, opts = {}) {
      return readFile(await checkedPath(key, opts), "utf8");
    },
    async getBytes(key, opts = {}) {
      const bytes = await readFile(await checkedPath(key, opts));
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    async list(prefix) {
      const keys: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        let entries: Dirent[];
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
          throw e;
        }
        for (const entry of entries) {
          const p = join(dir, entry.name);
          if (entry.isDirectory()) await walk(p);
          else if (!entry.name.endsWith(".tmp")) {
            const key = relative(base, p).split(sep).join("/");
            if (key.startsWith(prefix)) keys.push(key);
          }
        }
      };
      // Walk only the deepest directory the prefix names.
      const dirPart = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
      await walk(join(base, dirPart));
      return keys.sort();
    },
  };
}

async function sweepSiblings(dir: string, swept: Set<string>): Promise<void> {
  const parent = dirname(dir);
  for (const entry of await readdir(parent, { withFileTypes: true })) {
    const sibling = join(parent, entry.name);
    if (!entry.isDirectory() || swept.has(sibling)) continue;
    swept.add(sibling);
    await sweepTempFiles(sibling);
  }
}

/** Removes temp files left in `dir` by writers that died (kill, crash, full disk). */
async function sweepTempFiles(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".tmp"));
  for (const name of names) {
    const path = join(dir, name);
    const pid = Number(TMP_RE.exec(name)?.[1] ?? Number.NaN);
    try {
      const abandoned =
        !Number.isInteger(pid) || !isAlive(pid) || Date.now() - (await stat(path)).mtimeMs > TMP_MAX_AGE_MS;
      if (abandoned) await rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; // another sweeper was first
    }
  }
}
