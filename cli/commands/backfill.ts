/** `weather backfill`: refill every missing site-hour of a range, oldest first. */
import { type Command, Option } from "commander";
import { pgCoverageReader } from "#core/adapters/pg-coverage-reader.ts";
import { addHours, type Interval, intervalOf, intervalRange } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import { loadSites } from "#core/domain/sites.ts";
import type { Log } from "#core/observability/logger.ts";
import { estimateSchedule, ledgerSeededLimiter, windowUsage } from "#core/providers/limits.ts";
import { providerFor, type Runtime } from "#core/runtime.ts";
import {
  admitEstimate,
  type BackfillDeps,
  type BackfillEstimate,
  type BackfillHistory,
  type BackfillReport,
  backfill,
  CATCH_UP,
  type CatchUp,
  describeEstimate,
} from "#core/use-cases/backfill.ts";
import { missingByHour, readCoverage } from "#core/use-cases/coverage.ts";
import type { HealRequest } from "#core/use-cases/heal.ts";
import { historyWeight, planHistory } from "#core/use-cases/history.ts";
import { intervalPrefix } from "#core/use-cases/ingest.ts";
import {
  historyOnce,
  ingestOnce,
  replayHistoryRange,
  replayRange,
  transformRangeOnce,
  workflowOnce,
} from "../actions.ts";
import { action, common, rangeFlags } from "../command.ts";
import { type SourceSession, withRuntime, withSource } from "../context.ts";
import { EXIT } from "../errors.ts";
import type { Output } from "../output.ts";
import { refuseArchivedHours } from "./archive.ts";

export function register(program: Command): void {
  common(
    program
      .command("backfill")
      .description(
        "refill every site-hour missing from bronze in a range: replay raw objects where they exist; then, " +
          "for a source with history (open-meteo, simulator), print the estimate (weighted calls, today's " +
          "quota, duration), fetch every still-missing site-hour from its history APIs in the fewest weighted " +
          "requests and transform the range in ONE bulk run; the current hour is fetched live and gets its " +
          "own workflow (openweather: current hour only). Exits 1 if anything is still missing, and says what.",
      )
      .requiredOption("--from <hour>", "first UTC hour, e.g. 2026-11-20T00")
      .option("--to <hour>", "last UTC hour (default: --from)")
      .addOption(
        new Option(
          "--catch-up <policy>",
          "hours with gaps: fetch all (through history, where the source has it), only the latest, or skip them (replay only)",
        )
          .choices(CATCH_UP)
          .default("all"),
      )
      .option(
        "--pace",
        "when the history fetch needs more than today's remaining quota, wait for the quota (progress " +
          "shown) instead of stopping with exit 1",
      ),
    { source: true, sites: true },
  ).action(
    action(async ({ flags, config, log, out }) => {
      const { from, to } = rangeFlags(flags);
      const sites = await loadSites(config.SITES_FILE);
      const report = await withSource(config, from, (session) =>
        withRuntime(
          session.config,
          async (rt) => {
            await refuseArchivedHours(rt.db.pool, "backfill", from, to);
            const bar = out.progress(intervalRange(from, to).length, "hours");
            try {
              return await backfill(
                await backfillDeps(rt, session, {
                  sites,
                  log,
                  out,
                  catchUp: flags.catchUp as CatchUp,
                  pace: Boolean(flags.pace),
                }),
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

/** The backfill's ports on an open runtime: what `weather backfill` runs (and bench:backfill measures). */
export async function backfillDeps(
  rt: Runtime,
  session: SourceSession,
  args: { sites: Site[]; log: Log; out: Output; catchUp: CatchUp; pace: boolean },
): Promise<BackfillDeps> {
  const { sites, log, out } = args;
  const byId = new Map(sites.map((s) => [s.id, s]));
  return {
    log,
    supportsHistory: session.supportsHistory,
    missing: async (f, t) =>
      missingByHour(
        await readCoverage(pgCoverageReader(rt.db.pool), {
          from: f,
          to: t,
          siteIds: sites.map((s) => s.id),
          source: session.source,
        }),
      ),
    hasRaw: async (i) => (await rt.rawStore.list(intervalPrefix(session.source, i))).length > 0,
    replay: (i) => replayRange(rt, { from: i, to: i, sources: [session.source], log }),
    ingest: (i, ids) =>
      ingestOnce(rt, session, { interval: i, sites: ids.flatMap((id) => byId.get(id) ?? []), log, out }),
    runWorkflow: (i) => workflowOnce(rt, { interval: i, log, out, force: true }),
    history:
      args.catchUp === "all"
        ? await historyPort(rt, session, { sites, log, out, pace: args.pace })
        : undefined,
  };
}

/**
 * The history side of a backfill, or undefined when the source has none (OpenWeatherMap). Its `admit`
 * prints the estimate and stops a plan that does not fit today's quota unless `pace`.
 */
async function historyPort(
  rt: Runtime,
  session: SourceSession,
  args: { sites: Site[]; log: Log; out: Output; pace: boolean },
): Promise<BackfillHistory | undefined> {
  const provider = await providerFor(session.config, session.source);
  const history = provider.history;
  if (!history) return undefined;
  const { out, log, pace } = args;
  const byId = new Map(args.sites.map((s) => [s.id, s]));
  const variables = history.variables.length;
  return {
    latest: addHours(intervalOf(new Date()), -1),
    sites: args.sites,
    weight: (days, locations) => historyWeight(variables, days, locations),
    replay: (from, to) => replayHistoryRange(rt, { from, to, source: session.source, log }),
    admit: async (plan) => {
      const estimate = await estimatePlan(rt, provider, plan, byId);
      out.say(describeEstimate(estimate));
      return admitEstimate(estimate, pace);
    },
    fetchHistory: (sites, from, to) => {
      out.say(`Fetching ${session.source} history for ${sites.length} sites, ${from} → ${to}`);
      let bar: ReturnType<Output["progress"]> | undefined;
      return historyOnce(rt, session, {
        sites,
        from,
        to,
        log,
        onProgress: (p) => {
          if (!pace) {
            bar ??= out.progress(p.requestsTotal, "history requests");
            bar.update(p.requestsDone);
          } else
            out.say(
              `  request ${p.requestsDone}/${p.requestsTotal} (${p.request.endpoint} ${p.request.from} → ` +
                `${p.request.to}, ${p.request.sites} sites): ${p.request.status}`,
            );
        },
      }).finally(() => bar?.stop());
    },
    transformRange: (from, to) => transformRangeOnce(rt, { from, to, trigger: "backfill", log, out }),
  };
}

/** The plan's exact requests (history's 14-day windows, batches, forecast/archive split), weighed and scheduled. */
async function estimatePlan(
  rt: Runtime,
  provider: Awaited<ReturnType<typeof providerFor>>,
  plan: HealRequest[],
  byId: ReadonlyMap<string, Site>,
): Promise<BackfillEstimate> {
  const now = new Date();
  const variables = provider.history?.variables.length ?? 0;
  const requests = plan.flatMap((r) =>
    planHistory({
      sites: r.siteIds.flatMap((id) => byId.get(id) ?? []),
      from: r.from,
      to: r.to,
      now,
      batchSize: provider.batchSize,
      recentDays: provider.history?.recentDays ?? 0,
    }),
  );
  const weight = requests.reduce((n, q) => n + historyWeight(variables, q.days, q.sites.length), 0);
  const usage = windowUsage(await ledgerSeededLimiter(provider.source, provider.limits, rt.bronze));
  return {
    ...estimateSchedule(provider.limits, usage, weight),
    usedToday: usage.perDay,
    perDay: provider.limits.perDay,
    requests: requests.length,
  };
}

function describeBackfill(r: BackfillReport): string {
  // Consecutive hours that fared alike are one line (a year is 8,760 hours); --json keeps every hour.
  const runs: Array<{ first: BackfillReport["steps"][number]; last: Interval; hours: number; text: string }> =
    [];
  for (const s of r.steps) {
    const text =
      `${s.missingBefore} missing → ${s.replayed} replayed, ${s.fetched} fetched, ` +
      `${s.stillMissing.length} still missing  workflow=${s.workflow ?? "-"}${s.reason ? `\n    ${s.reason}` : ""}`;
    const prev = runs.at(-1);
    if (
      prev &&
      !s.currentHour &&
      !prev.first.currentHour &&
      prev.text === text &&
      addHours(prev.last, 1) === s.interval
    ) {
      prev.last = s.interval;
      prev.hours += 1;
    } else runs.push({ first: s, last: s.interval, hours: 1, text });
  }
  const lines = runs.map(
    ({ first, last, hours, text }) =>
      `${first.interval}${hours > 1 ? ` → ${last} (${hours} h, each)` : ""}` +
      `${first.currentHour ? " (current hour)" : ""}: ${text}`,
  );
  const h = r.history;
  if (h) {
    if (h.stopped) lines.push(`history NOT fetched: ${h.stopped}`);
    for (const q of h.requests)
      lines.push(
        `history ${q.from} → ${q.to} for ${q.siteIds.length} sites: ${q.status}, ${q.observationsLoaded} ` +
          `observations${q.reason ? ` — ${q.reason}` : ""}`,
      );
    if (h.transform)
      lines.push(
        `transform ${h.transform.from} → ${h.transform.to}: ${h.transform.status}` +
          `${h.transform.error ? ` — ${h.transform.error}` : ""}`,
      );
  }
  lines.push(
    r.siteHoursStillMissing === 0
      ? `${r.from} → ${r.to}: complete (${r.siteHoursFilled} site-hours filled over ${r.hoursChecked} hours).`
      : `${r.from} → ${r.to}: ${r.siteHoursStillMissing} site-hours STILL MISSING in ` +
          `${r.steps.filter((s) => s.stillMissing.length > 0).length} hours (${r.siteHoursFilled} filled).`,
  );
  return lines.join("\n");
}
