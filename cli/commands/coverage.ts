/** `weather coverage`: expected versus present hours per site. */
import type { Command } from "commander";
import { pgCoverageReader } from "#core/adapters/pg-coverage-reader.ts";
import { intervalOf } from "#core/domain/interval.ts";
import { loadSites } from "#core/domain/sites.ts";
import { readCoverage } from "#core/use-cases/coverage.ts";
import { action, common, rangeFlags } from "../command.ts";
import { withRuntime } from "../context.ts";
import { EXIT } from "../errors.ts";

export function register(program: Command): void {
  common(
    program
      .command("coverage")
      .description("expected versus present hours per site, and the hours a backfill would fill")
      .requiredOption("--from <hour>", "first UTC hour")
      .option("--to <hour>", "last UTC hour (default: the current hour)"),
    { sites: true },
  ).action(
    action(async ({ flags, config, out }) => {
      const { from, to } = rangeFlags(flags, () => intervalOf(new Date()));
      const sites = await loadSites(config.SITES_FILE);
      const report = await withRuntime(config, (rt) =>
        readCoverage(pgCoverageReader(rt.db.pool), { from, to, siteIds: sites.map((s) => s.id) }),
      );
      out.result(report, () =>
        [
          ...report.sites.map((s) => `${s.siteId.padEnd(14)} ${s.present}/${s.expected} hours`),
          report.complete ? "complete" : `missing hours: ${report.missingIntervals.join(", ")}`,
        ].join("\n"),
      );
      return EXIT.ok;
    }),
  );
}
