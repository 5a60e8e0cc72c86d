/**
 * Deterministic aggregates: a full rebuild and incremental runs in any order leave identical rows,
 * to the last bit (float sums and means depend on the order rows are added in, so gold aggregates
 * in numeric; see docs/data-model.md).
 */

import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { rebuildAll, runTransform } from "#core/use-cases/transform.ts";
import {
  type BronzeRow,
  insertBronze,
  insertIngestionRun,
  reading,
  T0,
} from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { resetDerived, SILVER_AND_GOLD } from "./support.ts";

const SITES = ["s1", "s2", "s3"];
const HOURS = 26;

let db: TestDatabase;

/** A small deterministic PRNG (mulberry32), so the data and the shuffles repeat run to run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(xs: T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const intervalOf = (h: number) => new Date(T0 + h * 3_600_000).toISOString().slice(0, 13);

/** md5 over every row of each silver and gold relation, ordered by the row's text. */
async function fullRowChecksums(pool: pg.Pool): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of SILVER_AND_GOLD) {
    const { rows } = await pool.query<{ md5: string; n: number }>(
      `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5, count(*)::int as n from ${t} as t`,
    );
    out[t] = `${rows[0]?.n}:${rows[0]?.md5}`;
  }
  return out;
}

/** Silver for every interval, then gold for every interval, each layer in the given order. */
async function incremental(pool: pg.Pool, silverOrder: number[], goldOrder: number[]): Promise<void> {
  for (const h of silverOrder)
    await runTransform(pgOpsPorts(pool), { layer: "silver", interval: intervalOf(h) });
  for (const h of goldOrder) await runTransform(pgOpsPorts(pool), { layer: "gold", interval: intervalOf(h) });
}

beforeAll(async () => {
  db = await createTestDatabase();
  // Prepare: 3 sites x 26 hours (two UTC days), two sources, values with many decimals; one ingestion run per hour.
  const rand = prng(42);
  const rows: BronzeRow[] = [];
  for (let h = 0; h < HOURS; h++) {
    await insertIngestionRun(db.pool, `run-${h}`, intervalOf(h));
    for (const site of SITES) {
      for (const source of ["open-meteo", "openweather"] as const) {
        const value = () => Math.round((rand() * 30 - 5) * 1e6) / 1e6 + 0.1;
        rows.push(
          reading(site, h, source === "open-meteo" ? 30 : 20, {
            source,
            ingestion_run_id: `run-${h}`,
            temperature_c: value(),
            feels_like_c: value(),
            humidity_pct: Math.round(rand() * 1e6) / 1e4 + 0.1,
            wind_speed_ms: rand() * 10,
            wind_gust_ms: rand() * 20,
            cloud_cover_pct: rand() * 100,
            precipitation_mm: rand() < 0.5 ? 0 : rand() * 3,
            precipitation_window_minutes: source === "open-meteo" ? 15 : 60,
          }),
        );
      }
    }
  }
  await insertBronze(db.pool, rows);
});
afterAll(async () => {
  await db?.destroy();
});

describe("deterministic aggregates", () => {
  it("a full rebuild and incremental runs in shuffled orders leave identical rows", async () => {
    // Prepare: the full rebuild's rows
    await rebuildAll(pgOpsPorts(db.pool), { interval: intervalOf(HOURS - 1) });
    const full = await fullRowChecksums(db.pool);
    const hours = Array.from({ length: HOURS }, (_, h) => h);
    const rand = prng(7);
    for (const [silverOrder, goldOrder] of [
      [shuffled(hours, rand), shuffled(hours, rand)],
      [shuffled(hours, rand), [...hours].reverse()],
    ] as const) {
      // Act
      await resetDerived(db.pool);
      await incremental(db.pool, silverOrder, goldOrder);
      // Assess
      expect(await fullRowChecksums(db.pool)).toEqual(full);
    }
  });
});
