/** `weather backfill`: refill every missing site-hour of a range, oldest first. */
import { type Command, Option } from "commander";
import { intervalRange } from "#core/domain/interval.ts";
import { loadSites } from "#core/domain/sites.ts";
import { type BackfillReport, backfill, CATCH_UP, type CatchUp } from "#core/use-cases/backfill.ts";
import { missingByHour, readCoverage } from "#core/use-cases/coverage.ts";
import { intervalPrefix } from "#core/use-cases/ingest.ts";
import { ingestOnce, replayRange, workflowOnce } from "../actions.ts";
import { action, common, rangeFlags } from "../command.ts";
import { withRuntime, withSource } from "../context.ts";
import { EXIT } from "../errors.ts";

export function register(program: Command): void {
  common(
    program
      .command("backfill")
      .description(
        "refill every site-hour missing from bronze in a range, oldest first: replay raw objects where they " +
          "exist, fetch the missing sites where the source can serve that hour, then run the workflow — the " +
          "current hour first whenever it falls due. Exits 1 if anything is still missing, and says what.",
      )
      .requiredOption("--from <hour>", "first UTC hour, e.g. 2026-11-20T00")
      .option("--to <hour>", "last UTC hour (default: --from)")
      .addOption(
        new Option(
          "--catch-up <policy>",
          "hours with gaps: fetch all, only the latest, or skip them (replay only)",
        )
          .choices(CATCH_UP)
          .default("all"),
      ),
    { source: true, sites: true },
  ).action(
    action(async ({ flags, config, log, out }) => {
      const { from, to } = rangeFlags(flags);
      const sites = await loadSites(config.SITES_FILE);
      const byId = new Map(sites.map((s) => [s.id, s]));
      const report = await withSource(config, from, (session) =>
        withRuntime(
          session.config,
          async (rt) => {
            const bar = out.progress(intervalRange(from, to).length, "hours");
            try {
              return await backfill(
                {
                  log,
                  supportsHistory: session.supportsHistory,
                  missing: async (f, t) =>
                    missingByHour(
                      await readCoverage(rt.db.pool, {
                        from: f,
                        to: t,
                        siteIds: sites.map((s) => s.id),
                        source: session.source,
                      }),
                    ),
                  hasRaw: async (i) => (await rt.rawStore.list(intervalPrefix(session.source, i))).length > 0,
                  replay: (i) => replayRange(rt, { from: i, to: i, sources: [session.source], log }),
                  ingest: (i, ids) =>
                    ingestOnce(rt, session, {
                      interval: i,
                      sites: ids.flatMap((id) => byId.get(id) ?? []),
                      log,
                      out,
                    }),
                  runWorkflow: (i) => workflowOnce(rt, { interval: i, log, out, force: true }),
                },
                { from, to, catchUp: flags.catchUp as CatchUp, onProgress: (d) => bar.update(d) },
              );
            } finally {
              bar.stop();
            }
          },
          { writesRaw: true },
        ),
      );
      out.result(report, () => describeBackfill(report));
      return report.failed ? EXIT.failed : EXIT.ok;
    }),
  );
}

function describeBackfill(r: BackfillReport): string {
  const lines = r.steps.map(
    (s) =>
      `${s.interval}${s.currentHour ? " (current hour)" : ""}: ${s.missingBefore} missing → ` +
      `${s.replayed} replayed, ${s.fetched} fetched, ${s.stillMissing.length} still missing` +
      `  workflow=${s.workflow ?? "-"}${s.reason ? `\n    ${s.reason}` : ""}`,
  );
  lines.push(
    r.siteHoursStillMissing === 0
      ? `${r.from} → ${r.to}: complete (${r.siteHoursFilled} site-hours filled over ${r.hoursChecked} hours).`
      : `${r.from} → ${r.to}: ${r.siteHoursStillMissing} site-hours STILL MISSING in ` +
          `${r.steps.filter((s) => s.stillMissing.length > 0).length} hours (${r.siteHoursFilled} filled).`,
  );
  return lines.join("\n");
}
