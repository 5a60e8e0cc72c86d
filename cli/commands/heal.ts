/** `weather heal`: refill the site-hours missing in the last N days from the source's history. */

import type { Command } from "commander";
import { pgCoverageReader } from "#core/adapters/pg-coverage-reader.ts";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { addHours, type Interval } from "#core/domain/interval.ts";
import { loadSites } from "#core/domain/sites.ts";
import { providerFor } from "#core/runtime.ts";
import { readCoverage } from "#core/use-cases/coverage.ts";
import { HEAL_DAYS, type HealReport, heal, healWindow } from "#core/use-cases/heal.ts";
import { historyWeight } from "#core/use-cases/history.ts";
import { transformRange } from "#core/use-cases/transform.ts";
import { historyOnce } from "../actions.ts";
import { action, common } from "../command.ts";
import { withRuntime, withSource } from "../context.ts";
import { EXIT, UsageError } from "../errors.ts";

export function register(program: Command): void {
  common(
    program
      .command("heal")
      .description(
        "refill the site-hours missing in the last N days of complete hours from the source's history " +
          "(the fewest weighted requests), rebuild silver and gold over them in one bulk run, and report " +
          "what is still missing. Exits 1 if a gap remains. The daily job of every runtime.",
      )
      .option(
        "--days <n>",
        `days of complete hours to check, ${HEAL_DAYS.min}..${HEAL_DAYS.max} (default: ${HEAL_DAYS.default})`,
      ),
    { source: true, sites: true },
  ).action(
    action(async ({ flags, config, log, out }) => {
      const days = daysFlag(flags.days);
      const sites = await loadSites(config.SITES_FILE);
      const now = new Date();
      const report = await withSource(config, healWindow(days, now).to, (session) =>
        withRuntime(
          session.config,
          async (rt) => {
            const provider = await providerFor(session.config, session.source);
            return heal(
              {
                log,
                coverage: (from, to, siteIds) =>
                  readCoverage(pgCoverageReader(rt.db.pool), { from, to, siteIds, source: session.source }),
                fetchHistory: (group, from, to) => {
                  out.say(`Fetching ${session.source} history ${from} → ${to} for ${group.length} sites`);
                  return historyOnce(rt, session, { sites: group, from, to, log });
                },
                transformRange: async (from, to) => {
                  out.say(`Transforming ${from} → ${to} (silver → silver checks → gold → gold checks)`);
                  const r = await transformRange(pgOpsPorts(rt.db.pool, log), { from, to, trigger: "heal" });
                  return { status: "succeeded", runId: `silver ${r.silver.runId}, gold ${r.gold.runId}` };
                },
                weight: (d, locations) =>
                  historyWeight(provider.history?.variables.length ?? 0, d, locations),
              },
              { days, sites, clock: () => now },
            );
          },
          { writesRaw: true },
        ),
      );
      out.result(report, () => describeHeal(report));
      return report.failed ? EXIT.failed : EXIT.ok;
    }),
  );
}

function daysFlag(value: string | boolean | undefined): number {
  if (value === undefined) return HEAL_DAYS.default;
  const n = Number(value);
  if (!Number.isInteger(n) || n < HEAL_DAYS.min || n > HEAL_DAYS.max)
    throw new UsageError(
      `--days must be a whole number from ${HEAL_DAYS.min} to ${HEAL_DAYS.max}, got ${JSON.stringify(value)}; ` +
        "use weather backfill for longer ranges",
    );
  return n;
}

function describeHeal(r: HealReport): string {
  const w = r.window;
  const lines = [
    `heal ${w.from} → ${w.to} (${w.days} day${w.days === 1 ? "" : "s"}, ${r.sitesChecked} sites): ` +
      `${r.siteHoursMissingBefore} site-hours missing`,
  ];
  for (const q of r.requests)
    lines.push(
      `  fetch ${q.from} → ${q.to} for ${q.siteIds.length} sites (weight ${q.weight}): ${q.status}, ` +
        `${q.observationsLoaded} observations${q.reason ? ` — ${q.reason}` : ""}`,
    );
  if (r.transform)
    lines.push(
      `  transform ${r.transform.from} → ${r.transform.to}: ${r.transform.status}` +
        `${r.transform.error ? ` — ${r.transform.error}` : ""}`,
    );
  for (const s of r.perSite.filter((s) => s.remaining.length > 0))
    lines.push(`  ${s.siteId}: still missing ${hourRuns(s.remaining)}`);
  lines.push(
    r.gapsRemaining === 0
      ? `complete: ${r.siteHoursFilled} site-hours filled.`
      : `${r.gapsRemaining} site-hours STILL MISSING (${r.siteHoursFilled} filled).`,
  );
  return lines.join("\n");
}

/** Consecutive hours as ranges: `2026-11-22T22 → 2026-11-23T03 (6 h), 2026-11-23T07`. */
function hourRuns(hours: readonly Interval[]): string {
  const runs: Array<[Interval, Interval, number]> = [];
  for (const h of hours) {
    const last = runs.at(-1);
    if (last && addHours(last[1], 1) === h) {
      last[1] = h;
      last[2]++;
    } else runs.push([h, h, 1]);
  }
  return runs.map(([a, b, n]) => (n === 1 ? a : `${a} → ${b} (${n} h)`)).join(", ");
}
