/** `weather run`: the whole pipeline for one hour — ingest, then the workflow; optionally N days of history. */
import type { Command } from "commander";
import { PgStatusReader } from "#core/adapters/pg-status-reader.ts";
import { addHours } from "#core/domain/interval.ts";
import { loadSites } from "#core/domain/sites.ts";
import { type BackfillReport, backfill } from "#core/use-cases/backfill.ts";
import { readStatus } from "#core/use-cases/status.ts";
import { compactIngest, describeIngest, describeWorkflow, ingestOnce, workflowOnce } from "../actions.ts";
import { action, common, INTERVAL_HELP, intervalFlag } from "../command.ts";
import { withRuntime, withSource } from "../context.ts";
import { EXIT, UsageError } from "../errors.ts";
import { backfillDeps } from "./backfill.ts";

/** `--history-days` bounds: a first run's week, up to the forecast API's 92 days of past hours. */
const HISTORY_DAYS = { min: 1, max: 92 } as const;

export function register(program: Command): void {
  common(
    program
      .command("run")
      .description(
        "the whole pipeline for one interval: ingest, then the workflow (silver → silver checks → gold → gold checks)",
      )
      .option("--interval <hour>", INTERVAL_HELP)
      .option("--force", "rerun the workflow even if this interval's execution already succeeded")
      .option(
        "--history-days <n>",
        `then backfill the ${HISTORY_DAYS.min}..${HISTORY_DAYS.max} days before the interval from the source's ` +
          "history (weather backfill's path: estimate, fewest weighted requests, one bulk transform), so the " +
          "dashboards show curves on the first run, e.g. --history-days 7",
      ),
    { source: true, sites: true },
  ).action(
    action(async ({ flags, config, log, out }) => {
      const interval = intervalFlag(flags);
      const sites = await loadSites(config.SITES_FILE);
      const historyDays = historyDaysFlag(flags.historyDays);
      const { ingest, workflow, history, status } = await withSource(config, interval, (session) =>
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
            let history: BackfillReport | undefined;
            if (historyDays) {
              const to = addHours(interval, -1);
              const from = addHours(interval, -historyDays * 24);
              out.say(`Backfilling ${from} → ${to} (${historyDays} days) from ${session.source}`);
              history = await backfill(
                await backfillDeps(rt, session, { sites, log, out, catchUp: "all", pace: false }),
                { from, to, catchUp: "all" },
              );
              out.say(
                history.failed
                  ? `history: ${history.siteHoursStillMissing} site-hours STILL MISSING` +
                      `${history.history?.stopped ? ` — ${history.history.stopped}` : ""}; see weather backfill`
                  : `history: complete (${history.siteHoursFilled} site-hours filled).`,
              );
            }
            return { ingest, workflow, history, status: await readStatus(new PgStatusReader(rt.db.pool)) };
          },
          { writesRaw: true },
        ),
      );
      const historySummary = history && {
        from: history.from,
        to: history.to,
        siteHoursMissingBefore: history.siteHoursMissingBefore,
        siteHoursFilled: history.siteHoursFilled,
        siteHoursStillMissing: history.siteHoursStillMissing,
        stopped: history.history?.stopped ?? null,
        transform: history.history?.transform ?? null,
        failed: history.failed,
      };
      out.result({ interval, ingest: compactIngest(ingest), workflow, history: historySummary, status }, () =>
        describeWorkflow(workflow),
      );
      return ingest.status === "failed" || workflow.status === "failed" || history?.failed
        ? EXIT.failed
        : EXIT.ok;
    }),
  );
}

function historyDaysFlag(value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < HISTORY_DAYS.min || n > HISTORY_DAYS.max)
    throw new UsageError(
      `--history-days must be a whole number from ${HISTORY_DAYS.min} to ${HISTORY_DAYS.max}, got ` +
        `${JSON.stringify(value)}; use weather backfill --from --to for longer ranges`,
    );
  return n;
}
