/**
 * Reads the SQL models shipped in `sql/` (check declarations: core/sql/checks.ts). Files are read once per process: a Lambda
 * container or a CLI run keeps them, and a change needs a new process anyway.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `sql/` in the source tree (core/sql/ → ../../sql), or a `sql/` copied next to a bundled handler
 * (a Lambda bundle is one file, so its deployment must copy the directory beside it).
 */
export const SQL_DIR =
  [new URL("../../sql", import.meta.url), new URL("./sql", import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((dir) => existsSync(join(dir, "models"))) ?? fileURLToPath(new URL("../../sql", import.meta.url));

export type Layer = "silver" | "gold";
export const LAYERS: readonly Layer[] = ["silver", "gold"];

export class SqlFileError extends Error {
  override name = "SqlFileError";
}

const cache = new Map<string, string>();

/** A model body with trailing semicolons removed, so callers can wrap it as a subquery. */
export function readSql(relativePath: string, dir: string = SQL_DIR): string {
  const path = join(dir, relativePath);
  let text = cache.get(path);
  if (text === undefined) {
    try {
      text = readFileSync(path, "utf8").replace(/;\s*$/, "").trimEnd();
    } catch (e) {
      throw new SqlFileError(
        `Cannot read ${path} (${(e as Error).message}); deployments must ship the sql/ directory next to core/.`,
      );
    }
    cache.set(path, text);
  }
  return text;
}
