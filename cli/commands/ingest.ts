/** `weather ingest`: one hour for every site, landed raw and upserted into bronze. */
import type { Command } from "commander";
import { loadSites } from "#core/domain/sites.ts";
import { compactIngest, describeIngest, ingestOnce } from "../actions.ts";
import { action, common, INTERVAL_HELP, intervalFlag } from "../command.ts";
import { withRuntime, withSource } from "../context.ts";
import { EXIT } from "../errors.ts";

export function register(program: Command): void {
  common(
    program
      .command("ingest")
      .description("fetch weather for every site for one interval; land it raw and upsert bronze")
      .option("--interval <hour>", INTERVAL_HELP),
    { source: true, sites: true },
  ).action(
    action(async ({ flags, config, log, out }) => {
      const interval = intervalFlag(flags);
      const sites = await loadSites(config.SITES_FILE);
      const result = await withSource(config, interval, (session) =>
        withRuntime(session.config, (rt) => ingestOnce(rt, session, { interval, sites, log, out }), {
          writesRaw: true,
        }),
      );
      out.result(compactIngest(result), () => describeIngest(result));
      return result.status === "succeeded" ? EXIT.ok : EXIT.failed;
    }),
  );
}
