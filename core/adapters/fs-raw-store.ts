/** Raw objects as files under a directory: the embedded default's object store. */
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { RawStore } from "../ports.ts";

export function fsRawStore(root: string): RawStore {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const p = resolve(base, key);
    if (!p.startsWith(base + sep)) throw new Error(`Raw key escapes the store: ${key}`);
    return p;
  };
  return {
    location: base,
    async put(key, body) {
      const p = pathOf(key);
      await mkdir(dirname(p), { recursive: true });
      // Write then rename, so a crash never leaves a half-written object for a replay to read.
      const tmp = `${p}.${process.pid}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, p);
    },
    async get(key) {
      return readFile(pathOf(key), "utf8");
    },
    async list(prefix) {
      const keys: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        let entries: import("node:fs").Dirent[];
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
