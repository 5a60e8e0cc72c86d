/**
 * Coverage: for each site, which hours of a range have a bronze observation (from any source, or
 * from one) and which are missing — the list a backfill works from.
 */
import { type Interval, intervalRange } from "../domain/interval.ts";
import type { ProviderSource } from "../domain/observation.ts";
import type { CoverageReader } from "../ports.ts";

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

/** Reads coverage for `siteIds` over [from, to] (of one source, or of any) through `reader`. */
export async function readCoverage(
  reader: CoverageReader,
  args: { from: Interval; to: Interval; siteIds: string[]; source?: ProviderSource },
): Promise<CoverageReport> {
  const present = await reader.presentHours(args);
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
