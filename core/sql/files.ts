/**
 * Reads the SQL models and checks shipped in `sql/`. Files are read once per process: a Lambda
 * container or a CLI run keeps them, and a change needs a new process anyway.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
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

export interface SqlCheck {
  /** File name without `.sql`, e.g. `gold__daily_min_le_max`. */
  name: string;
  layer: Layer;
  sql: string;
}

export class SqlFileError extends Error {
  override name = "SqlFileError";
}

const cache = new Map<string, string>();

/** A model or check body with trailing semicolons removed, so callers can wrap it as a subquery. */
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

/** The checks in `sql/checks`, named `<layer>__<what>.sql`, sorted by name; optionally one layer only. */
export function loadChecks(layer?: Layer, dir: string = SQL_DIR): SqlCheck[] {
  const checksDir = join(dir, "checks");
  let files: string[];
  try {
    files = readdirSync(checksDir).filter((f) => f.endsWith(".sql"));
  } catch (e) {
    throw new SqlFileError(`Cannot list ${checksDir} (${(e as Error).message}); ship the sql/ directory.`);
  }
  const checks: SqlCheck[] = [];
  for (const file of files.sort()) {
    const name = file.slice(0, -".sql".length);
    const prefix = name.split("__")[0];
    if (prefix !== "silver" && prefix !== "gold") {
      throw new SqlFileError(`${join(checksDir, file)}: check names must start with "silver__" or "gold__".`);
    }
    if (layer && prefix !== layer) continue;
    checks.push({ name, layer: prefix, sql: readSql(join("checks", file), dir) });
  }
  return checks;
}
