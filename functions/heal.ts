/**
 * Daily gap healing: an EventBridge schedule whose target input is `{ "days": 7 }` (or a manual
 * invoke with it; `{}` heals the default window) → heal the last N days from the source's history →
 * one bulk transform → the GapsRemaining metric (0 when every gap was filled: the gaps-remaining
 * alarm sees a datapoint on every run). Gaps that survive are a result, not an error: the function
 * returns them (a retry of the same heal would find the same gaps); it throws only when it could
 * not run (the heal-errors and db-errors alarms).
 */

import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { en } from "zod/locales";
import * as z from "zod/mini";
import { pgCoverageReader } from "#core/adapters/pg-coverage-reader.ts";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { loadConfig } from "#core/config/env.ts";
import { isDatabaseError } from "#core/db/errors.ts";
import { parseEvent } from "#core/domain/events.ts";
import type { Interval } from "#core/domain/interval.ts";
import { loadSites } from "#core/domain/sites.ts";
import { httpPolicyFromConfig } from "#core/providers/http.ts";
import { openRuntime, providerFor } from "#core/runtime.ts";
import { readCoverage } from "#core/use-cases/coverage.ts";
import { HEAL_DAYS, heal } from "#core/use-cases/heal.ts";
import { fetchHistory, historyWeight } from "#core/use-cases/history.ts";
import { transformRange } from "#core/use-cases/transform.ts";
import { lazy } from "./shared/lazy.ts";
import { observability, wrap } from "./shared/wrap.ts";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

// Validated once per container: a misconfigured function fails at cold start, naming the variable.
const config = loadConfig();
const obs = observability(config);
// One connection: a daily job gains nothing from two, and on the embedded PGlite (`weather invoke heal`)
// a second client would wait behind the first one's open transaction.
const runtime = lazy(() => openRuntime(config, { max: 1 }));

// Loose: a scheduled event's own fields (time, detail-type, ...) may come along and are ignored.
export const eventSchema = z.looseObject({
  days: z.optional(z.number().check(z.int(), z.gte(HEAL_DAYS.min), z.lte(HEAL_DAYS.max))),
});

export interface HealSummary {
  window: { from: Interval; to: Interval; days: number };
  siteHoursMissingBefore: number;
  siteHoursFilled: number;
  gapsRemaining: number;
  requests: number;
  transform: string;
  failed: boolean;
}

export async function lambdaHandler(event: unknown): Promise<HealSummary> {
  const { days = HEAL_DAYS.default } = parseEvent(
    eventSchema,
    event ?? {},
    `{ "days": ${HEAL_DAYS.default} } (whole days, ${HEAL_DAYS.min}..${HEAL_DAYS.max}) or {}`,
  );
  obs.logger.appendKeys({ days, source: config.WEATHER_SOURCE });
  const report = await run(days).catch((e: unknown) => {
    // A database that is gone before the heal could read coverage still shows on the DbErrors alarm.
    obs.metrics.addMetric("DbErrors", MetricUnit.Count, isDatabaseError(e) ? 1 : 0);
    throw e;
  });
  obs.metrics.addMetric("DbErrors", MetricUnit.Count, 0);
  obs.metrics.addMetric("GapsRemaining", MetricUnit.Count, report.gapsRemaining);
  obs.metrics.addMetric("SiteHoursHealed", MetricUnit.Count, report.siteHoursFilled);
  return {
    window: report.window,
    siteHoursMissingBefore: report.siteHoursMissingBefore,
    siteHoursFilled: report.siteHoursFilled,
    gapsRemaining: report.gapsRemaining,
    requests: report.requests.length,
    transform: report.transform?.status ?? "none",
    failed: report.failed,
  };
}

async function run(days: number) {
  const rt = await runtime();
  const source = config.WEATHER_SOURCE;
  const provider = await providerFor(config, source);
  const log = obs.logger;
  return heal(
    {
      log,
      coverage: (from, to, siteIds) =>
        readCoverage(pgCoverageReader(rt.db.pool), { from, to, siteIds, source }),
      fetchHistory: (sites, from, to) =>
        fetchHistory(
          { provider, rawStore: rt.rawStore, bronze: rt.bronze, policy: httpPolicyFromConfig(config), log },
          { sites, from, to, failureThreshold: config.SITE_FAILURE_THRESHOLD },
        ),
      transformRange: async (from, to) => {
        const r = await transformRange(pgOpsPorts(rt.db.pool, log), { from, to, trigger: "heal" });
        return { status: "succeeded", runId: `silver ${r.silver.runId}, gold ${r.gold.runId}` };
      },
      weight: (d, locations) => historyWeight(provider.history?.variables.length ?? 0, d, locations),
    },
    { days, sites: await loadSites(config.SITES_FILE) },
  );
}

export const handler = wrap(lambdaHandler, obs);
