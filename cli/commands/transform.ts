/** `weather transform`: the workflow alone for one hour, or a rebuild of silver and gold from all of bronze. */
import type { Command } from "commander";
import type pg from "pg";
import { pgBronzeArchive } from "#core/adapters/pg-bronze-archive.ts";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { rebuildAll } from "#core/use-cases/transform.ts";
import { describeWorkflow, workflowOnce } from "../actions.ts";
import { action, common, INTERVAL_HELP, intervalFlag } from "../command.ts";
import { withRuntime } from "../context.ts";
import { EXIT, UsageError } from "../errors.ts";

export function register(program: Command): void {
  common(
    program
      .command("transform")
      .description(
        "run the workflow (silver → silver checks → gold → gold checks) for one interval, or rebuild everything",
      )
      .option("--interval <hour>", INTERVAL_HELP)
      .option("--full", "rebuild silver and gold from all of bronze instead of one interval"),
  ).action(
    action(async ({ flags, config, log, out }) => {
      const interval = intervalFlag(flags);
      if (flags.full) {
        const rebuilt = await withRuntime(config, async (rt) => {
          await refuseWhileArchived(rt.db.pool);
          return rebuildAll(pgOpsPorts(rt.db.pool, log), { interval });
        });
        out.result(
          rebuilt,
          () => `Rebuilt silver (${rebuilt.silver.durationMs} ms) and gold (${rebuilt.gold.durationMs} ms).`,
        );
        return EXIT.ok;
      }
      const workflow = await withRuntime(config, (rt) =>
        workflowOnce(rt, { interval, log, out, force: true }),
      );
      out.result(workflow, () => describeWorkflow(workflow));
      return workflow.status === "failed" ? EXIT.failed : EXIT.ok;
    }),
  );
}

/**
 * A full rebuild recomputes silver (and so gold) from bronze alone: an archived month, absent from
 * bronze, would vanish from both. Refused until those months are restored (docs/decisions.md,
 * "Bronze retention").
 */
async function refuseWhileArchived(pool: pg.Pool): Promise<void> {
  const months = (await pgBronzeArchive(pool).archivedMonths()).map((a) => a.month);
  if (months.length === 0) return;
  throw new UsageError(
    `transform --full rebuilds silver and gold from bronze alone, and bronze lacks the archived month(s) ` +
      `${months.join(", ")}: their silver and gold rows would be lost. Restore them first ` +
      `(${months.map((m) => `weather restore --month ${m}`).join("; ")}), rebuild, then archive again ` +
      "(weather archive). Nothing was changed.",
  );
}
