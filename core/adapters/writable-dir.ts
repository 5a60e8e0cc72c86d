/**
 * Checks up front that a local directory can be written, so a bad `--home` or `--raw` fails in
 * milliseconds with the flag and path named — not after an hour of fetching, not with a raw ENOENT
 * from deep in PGlite, and never by hanging on a dead network mount.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

/** A local directory the configuration names cannot be created or written. Exit 2: fix the setting. */
export class PathNotWritableError extends Error {
  override name = "PathNotWritableError";
}

const REASONS: Record<string, string> = {
  ENOTDIR: "a file is in the way (a path component is not a directory)",
  EEXIST: "a file is in the way (the path exists and is not a directory)",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENAMETOOLONG: "the path is too long",
  ELOOP: "too many symbolic links",
};

/**
 * Creates `dir` if needed and writes and removes a probe file in it, within `timeoutMs`.
 * `label` names the setting (e.g. `--home / WEATHER_HOME`). Throws {@link PathNotWritableError}.
 */
export async function probeWritableDirectory(dir: string, label: string, timeoutMs = 10_000): Promise<void> {
  const path = resolve(dir);
  const fail = (why: string) =>
    new PathNotWritableError(
      `${label} "${dir}" is not a writable directory: ${why}. Point ${label} at a directory this user can write.`,
    );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(fail(`no answer from the file system within ${timeoutMs / 1000} s (a hung mount?)`)),
      timeoutMs,
    );
    // A hung file system call must not keep the process alive once the error is reported.
    timer.unref();
  });
  const probe = async () => {
    try {
      await mkdir(path, { recursive: true });
      const file = join(path, `.write-probe-${process.pid}-${randomBytes(4).toString("hex")}`);
      await writeFile(file, "");
      await rm(file, { force: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      throw fail(REASONS[code] ?? `${code || "error"}: ${(e as Error).message}`);
    }
  };
  try {
    await Promise.race([probe(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
