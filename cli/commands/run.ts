/** `weather run`: the whole pipeline for one hour — ingest, then the workflow. */
import type { Command } from "commander";
import { loadSites } from "#core/domain/sites.ts";
import { readStatus } from "#core/use-cases/status.ts";
import { compactIngest, describeIngest, describeWorkflow, ingestOnce, workflowOnce } from "../actions.ts";
import { action, common, INTERVAL_HELP, intervalFlag } from "../command.ts";
import { withRuntime, withSource } from "../context.ts";
import { EXIT } from "../errors.ts";

export function register(program: Command): void {
  common(
    program
      .command("run")
      .description(
        "the whole pipeline for one interval: ingest, then the workflow (silver → silver checks → gold → gold checks)",
      )
      .option("--interval <hour>", INTERVAL_HELP)
      .option("--force", "rerun the workflow even if this interval's execution already succeeded"),
    { source: true, sites: true },
  ).action(
    action(async ({ flags, config, log, out }) => {
      const interval = intervalFlag(flags);
      const sites = await loadSites(config.SITES_FILE);
      const { ingest, workflow, status } = await withSource(config, interval, (session) =>
        withRuntime(
          session.config,
          async (rt) => {
            const ingest = await ingestOnce(rt, session, { interval, sites, log, out });
            out.say(describeIngest(ingest));
            // New or changed bronze rows must reach gold even if this interval's workflow ran before.
            const workflow = await workflowOnce(rt, {
              interval,
              log,
              out,
              force: Boolean(flags.force) || ingest.rowsChanged > 0,
            });
            return { ingest, workflow, status: await readStatus(rt.db.pool) };
          },
          { writesRaw: true },
        ),
      );
      out.result({ interval, ingest: compactIngest(ingest), workflow, status }, () =>
        describeWorkflow(workflow),
      );
      return ingest.status === "failed" || workflow.status === "failed" ? EXIT.failed : EXIT.ok;
    }),
  );
}
