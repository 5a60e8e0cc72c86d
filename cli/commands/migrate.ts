/** `weather migrate`: apply pending SQL migrations (every other command does so first anyway). */
import type { Command } from "commander";
import { migrate } from "#core/db/migrate.ts";
import { action, common } from "../command.ts";
import { withRuntime } from "../context.ts";
import { EXIT } from "../errors.ts";

export function register(program: Command): void {
  common(
    program
      .command("migrate")
      .description("apply pending SQL migrations (every command also does this first)"),
  ).action(
    action(async ({ config, out }) => {
      const applied = await withRuntime(config, (rt) => migrate(rt.db.pool), { migrate: false });
      out.result({ applied }, () =>
        applied.length ? `Applied: ${applied.join(", ")}` : "Nothing to apply; the database is up to date.",
      );
      return EXIT.ok;
    }),
  );
}
