/** Helpers shared by the SQL tests: run a pipeline, snapshot and checksum relations. */

import type pg from "pg";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { runQualityChecks } from "#core/use-cases/check-quality.ts";
import { runTransform } from "#core/use-cases/transform.ts";

export const SILVER_AND_GOLD = [
  "silver.observations",
  "gold_internal.site_hourly",
  "gold_internal.site_daily",
  "gold_internal.site_temperature_moving_avg",
  "gold_internal.site_latest_conditions",
] as const;

const KEYS: Record<(typeof SILVER_AND_GOLD)[number], string> = {
  "silver.observations": "site_id, hour, source",
  "gold_internal.site_hourly": "site_id, hour",
  "gold_internal.site_daily": "site_id, day",
  "gold_internal.site_temperature_moving_avg": "site_id, hour",
  "gold_internal.site_latest_conditions": "site_id",
};

/** Silver, the silver gate (SilverChecks), then gold for one interval, as the workflow runs them. */
export async function runPipeline(pool: pg.Pool, interval: string, lookbackHours?: number): Promise<void> {
  const extra = lookbackHours === undefined ? {} : { lookbackHours };
  await runTransform(pgOpsPorts(pool), { layer: "silver", interval, ...extra });
  await runQualityChecks(pgOpsPorts(pool), { interval, layer: "silver" });
  await runTransform(pgOpsPorts(pool), { layer: "gold", interval, ...extra });
}

/** md5 of every row of each relation in key order: equal checksums mean equal contents. */
export async function checksums(pool: pg.Pool): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of SILVER_AND_GOLD) {
    const { rows } = await pool.query<{ md5: string; n: number }>(
      `select md5(coalesce(string_agg(t::text, '|' order by ${KEYS[t]}), '')) as md5, count(*) as n from ${t} as t`,
    );
    out[t] = `${rows[0]?.n}:${rows[0]?.md5}`;
  }
  return out;
}

/** Every row of `table` keyed by its primary key, as text, to diff two states. */
export async function snapshot(
  pool: pg.Pool,
  table: (typeof SILVER_AND_GOLD)[number],
): Promise<Map<string, string>> {
  const key = KEYS[table]
    .split(", ")
    .map((k) => `t.${k}::text`)
    .join(" || '/' || ");
  const { rows } = await pool.query<{ k: string; v: string }>(
    `select ${key} as k, t::text as v from ${table} as t`,
  );
  return new Map(rows.map((r) => [r.k, r.v]));
}

/** Keys whose rows differ (changed, added or removed) between two snapshots, sorted. */
export function changedKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

/** Query rows with Dates as ISO strings and numbers rounded to 9 decimals, for exact comparisons. */
export async function plainRows(
  pool: pg.Pool,
  sql: string,
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query(sql, params);
  return rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [
        k,
        v instanceof Date ? v.toISOString() : typeof v === "number" ? Math.round(v * 1e9) / 1e9 : v,
      ]),
    ),
  );
}

/** Rounds like {@link plainRows}, for hand-computed expectations such as 375 / 27. */
export function r9(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/**
 * Back to the bare fixture: drops the bronze rows and ingestion runs a test added (run ids starting
 * with `runPrefix`) and empties silver and gold ({@link resetDerived}).
 */
export async function resetToFixture(pool: pg.Pool, runPrefix: string): Promise<void> {
  await pool.query("delete from bronze.weather_observations where ingestion_run_id like $1", [
    `${runPrefix}%`,
  ]);
  await pool.query("delete from ops.ingestion_runs where run_id like $1", [`${runPrefix}%`]);
  await resetDerived(pool);
}

/** Empties silver, gold and the transform ledger (bronze and ingestion runs stay). */
export async function resetDerived(pool: pg.Pool): Promise<void> {
  await pool.query(
    `truncate ${SILVER_AND_GOLD.join(", ")}, ops.transform_runs, ops.quality_check_runs cascade`,
  );
  // Nothing transformed: the next runs scope every bronze row again.
  await pool.query("delete from ops.transform_watermarks");
}
