/**
 * The `weather` command line: drives the core use cases on the embedded default or any Postgres.
 * Each command lives in cli/commands/<command>.ts; this file only wires them and maps errors to exit
 * codes (0 ok, 1 the run failed, 2 bad input or configuration) on every path, `--json` included.
 */
import { Command, CommanderError } from "commander";
import * as archive from "./commands/archive.ts";
import * as backfill from "./commands/backfill.ts";
import * as coverage from "./commands/coverage.ts";
import * as heal from "./commands/heal.ts";
import * as ingest from "./commands/ingest.ts";
import * as invoke from "./commands/invoke.ts";
import * as lineage from "./commands/lineage.ts";
import * as migrate from "./commands/migrate.ts";
import * as replay from "./commands/replay.ts";
import * as run from "./commands/run.ts";
import * as status from "./commands/status.ts";
import * as transform from "./commands/transform.ts";
import { EXIT, exitCodeFor, UsageError } from "./errors.ts";
import { reportError } from "./output.ts";

const program = new Command()
  .name("weather")
  .description(
    "weather-dataops: land weather for your sites raw and in bronze, then transform it to silver and gold.\n" +
      "Runs on an embedded PGlite under .weather/ by default; point --db (or DATABASE_URL) at any Postgres.",
  )
  .showHelpAfterError()
  .exitOverride();

// The order here is the order of `weather --help`.
for (const command of [
  ingest,
  run,
  transform,
  backfill,
  heal,
  replay,
  archive,
  coverage,
  lineage,
  migrate,
  status,
  invoke,
])
  command.register(program);

export async function main(argv: string[]): Promise<number> {
  // Known before commander parses, so even a usage error or a crash keeps the --json contract.
  const json = argv.includes("--json");
  const crash = (e: unknown) => {
    // State is unknown after an uncaught error: report once, then exit (locks are released on exit).
    reportError(e, EXIT.failed, json);
    process.exit(EXIT.failed);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT.ok; // --help, --version
      // commander has already printed its message to stderr.
      reportError(new UsageError(e.message.replace(/^error: /, "")), EXIT.badInput, json, {
        alreadyOnStderr: true,
      });
      return EXIT.badInput;
    }
    const code = exitCodeFor(e);
    reportError(e, code, json);
    return code;
  }
}

process.exitCode = await main(process.argv);
// Everything main opened is closed by now; a handle still open (a hung file system call, a leaked
// socket) must not keep the command from exiting.
setTimeout(() => process.exit(), 5_000).unref();
