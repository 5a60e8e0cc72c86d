/**
 * Coverage: for each site, which hours of a range have a bronze observation (from any source, or
 * from one) and which are missing — the list a backfill works from.
 */
import type pg from "pg";
import { type Interval, intervalRange, intervalStart } from "../domain/interval.ts";
import type { ProviderSource } from "../domain/observation.ts";

export interface SiteCoverage {
  siteId: string;
  expected: number;
  present: number;
  missing: Interval[];
}

export interface CoverageReport {
  from: Interval;
  to: Interval;
  expectedPerSite: number;
  sites: SiteCoverage[];
  /** Intervals missing for at least one site, oldest first. */
  missingIntervals: Interval[];
  complete: boolean;
}

export async function readCoverage(
  pool: pg.Pool,
  args: { from: Interval; to: Interval; siteIds: string[]; source?: ProviderSource },
): Promise<CoverageReport> {
  const { rows } = await pool.query<{ site_id: string; hour: string }>(
    `select distinct site_id, to_char(date_trunc('hour', observed_at at time zone 'UTC'), 'YYYY-MM-DD"T"HH24') as hour
     from bronze.weather_observations
     where observed_at >= $1 and observed_at < $2 and site_id = any($3) and ($4::text is null or source = $4)`,
    [
      intervalStart(args.from),
      new Date(intervalStart(args.to).getTime() + 3_600_000),
      args.siteIds,
      args.source ?? null,
    ],
  );
  const present = new Map<string, Set<string>>();
  for (const r of rows) {
    if (!present.has(r.site_id)) present.set(r.site_id, new Set());
    present.get(r.site_id)?.add(r.hour);
  }
  return coverageOf({ from: args.from, to: args.to, siteIds: args.siteIds, present });
}

/**
 * The coverage report for `siteIds` over [from, to] given the hours each site has (`present`: site id →
 * hours). Pure, so use cases' tests can build the same report from an in-memory warehouse.
 */
export function coverageOf(args: {
  from: Interval;
  to: Interval;
  siteIds: readonly string[];
  present: ReadonlyMap<string, ReadonlySet<string>>;
}): CoverageReport {
  const expected = intervalRange(args.from, args.to);
  const sites = args.siteIds.map((siteId) => {
    const have = args.present.get(siteId) ?? new Set<string>();
    return {
      siteId,
      expected: expected.length,
      present: expected.filter((i) => have.has(i)).length,
      missing: expected.filter((i) => !have.has(i)),
    };
  });
  const lacking = new Set(sites.flatMap((s) => s.missing));
  const missingIntervals = expected.filter((i) => lacking.has(i));
  return {
    from: args.from,
    to: args.to,
    expectedPerSite: expected.length,
    sites,
    missingIntervals,
    complete: missingIntervals.length === 0,
  };
}

/** Missing site ids per hour (complete hours omitted): the backfill's plan. */
export function missingByHour(report: CoverageReport): Map<Interval, string[]> {
  const out = new Map<Interval, string[]>();
  for (const s of report.sites)
    for (const i of s.missing) {
      const list = out.get(i) ?? [];
      list.push(s.siteId);
      out.set(i, list);
    }
  return out;
}
