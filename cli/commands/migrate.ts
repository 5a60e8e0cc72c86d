/**
 * `weather migrate`: apply pending SQL migrations (every other command does so first anyway), then,
 * with DATABASE_ROLE_PASSWORDS, let the database roles named there log in with their passwords.
 */
import type { Command } from "commander";
import { migrate } from "#core/db/migrate.ts";
import { enableRoles, parseRolePasswords } from "#core/db/roles.ts";
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
      // Checked before anything runs: a bad value is exit 2, naming the entry.
      const passwords = config.DATABASE_ROLE_PASSWORDS
        ? parseRolePasswords(config.DATABASE_ROLE_PASSWORDS)
        : undefined;
      const { applied, rolesEnabled } = await withRuntime(
        config,
        async (rt) => ({
          applied: await migrate(rt.db.pool),
          rolesEnabled: passwords ? await enableRoles(rt.db.pool, passwords) : [],
        }),
        { migrate: false },
      );
      out.result({ applied, rolesEnabled }, () =>
        [
          applied.length ? `Applied: ${applied.join(", ")}` : "Nothing to apply; the database is up to date.",
          ...(rolesEnabled.length ? [`Roles that may log in: ${rolesEnabled.join(", ")}`] : []),
        ].join("\n"),
      );
      return EXIT.ok;
    }),
  );
}
