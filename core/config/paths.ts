/**
 * The project root, for the CLI's own files (bin/, functions/, sql/). Computed here, two levels below
 * the root, because the CLI also runs as one bundle at dist/cli/main.mjs (scripts/build-cli.mjs), which
 * is two levels below it too: `new URL("../..", import.meta.url)` names the root from both.
 */
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
