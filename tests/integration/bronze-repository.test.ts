/**
 * The bronze write paths — one unnest statement; on servers, COPY straight into bronze for a batch of
 * new keys, else COPY into a staging table and one upsert — must write identical rows and share the
 * idempotent upsert rule.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COPY_THRESHOLD, pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import type { BronzeRow } from "#core/ports.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.destroy();
});

function rows(n: number, tweak = "", kind: BronzeRow["kind"] = "current"): BronzeRow[] {
  return Array.from({ length: n }, (_, i) => ({
    siteId: `site-${i}`,
    source: "open-meteo",
    kind,
    observedAt: new Date(Date.UTC(2026, 10, 22, 13)),
    temperatureC: i / 10,
    feelsLikeC: null,
    humidityPct: 50,
    pressureHpa: 1013.2,
    windSpeedMs: 3.1,
    windGustMs: null,
    windDirectionDeg: 270,
    cloudCoverPct: 10,
    precipitationMm: 0,
    precipitationWindowMinutes: 15,
    // Characters COPY's text format must escape.
    conditionCode: i % 2 ? "tab\there" : i % 3 ? "back\\slash\nnewline" : "carriage\rreturn",
    conditionSystem: "wmo",
    payload: { temperature_2m: i / 10, note: `quote " and \\ ${tweak}`, lines: "a\nb\tc\rd\u0001" },
    ingestionRunId: "open-meteo:2026-11-22T13",
    ingestedAt: new Date(Date.UTC(2026, 10, 22, 13, 5)),
    rawObjectKey: "source=open-meteo/batch-0001.json",
  }));
}

const dump = async () =>
  (
    await db.pool.query(
      // change_xid marks which transaction wrote a row (for the transform), not its content.
      `select md5(string_agg((to_jsonb(t) - 'change_xid')::text, '|' order by site_id, kind)) as sum, count(*) as n
       from bronze.weather_observations t`,
    )
  ).rows[0];

describe("bronze repository", () => {
  it("upserts idempotently and rewrites only changed payloads", async () => {
    const repo = pgBronzeRepository(db.pool);
    await db.pool.query("truncate bronze.weather_observations");
    expect(await repo.upsertObservations(rows(10))).toBe(10);
    expect(await repo.upsertObservations(rows(10))).toBe(0);
    expect(await repo.upsertObservations(rows(10, "changed"))).toBe(10);
    expect((await dump()).n).toBe(10);
  });

  it("writes the same rows through COPY as through unnest", async (ctx) => {
    if (db.embedded) ctx.skip(); // PGlite's socket server does not speak the COPY sub-protocol
    const n = COPY_THRESHOLD + 1;
    await db.pool.query("truncate bronze.weather_observations");
    await pgBronzeRepository(db.pool).upsertObservations(rows(n));
    const viaUnnest = await dump();
    await db.pool.query("truncate bronze.weather_observations");
    expect(await pgBronzeRepository(db.pool, { copy: true }).upsertObservations(rows(n))).toBe(n);
    expect(await dump()).toEqual(viaUnnest);
    expect(await pgBronzeRepository(db.pool, { copy: true }).upsertObservations(rows(n))).toBe(0);
  });

  it("loads a batch of new keys by one COPY into bronze, and goes through the staging table when keys exist", async (ctx) => {
    if (db.embedded) ctx.skip(); // COPY: servers only
    // Prepare: one session, so the staging table's existence shows which path a batch took.
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const repo = pgBronzeRepository(pool, { copy: true });
      const staged = async () =>
        (await pool.query("select to_regclass('pg_temp.bronze_stage') is not null as staged")).rows[0].staged;
      await db.pool.query("truncate bronze.weather_observations");
      const n = COPY_THRESHOLD;
      // Act / Assess: new keys land without a staging table
      expect(await repo.upsertObservations(rows(n))).toBe(n);
      expect(await staged()).toBe(false);
      const first = await dump();
      // Act / Assess: the same keys again: staged upsert, nothing rewritten
      expect(await repo.upsertObservations(rows(n))).toBe(0);
      expect(await staged()).toBe(true);
      expect(await dump()).toEqual(first);
    } finally {
      await pool.end();
    }
  });

  it("keeps a live reading and a history value of the same instant as two rows, on both paths", async () => {
    // Prepare: the same site, source and observed_at as current, forecast and archive (COPY: servers only)
    const paths = db.embedded
      ? [{ copy: false, n: 3 }]
      : [
          { copy: false, n: 3 },
          { copy: true, n: COPY_THRESHOLD },
        ];
    for (const { copy, n } of paths) {
      await db.pool.query("truncate bronze.weather_observations");
      const repo = pgBronzeRepository(db.pool, { copy });
      // Act
      const written =
        (await repo.upsertObservations(rows(n, "", "current"))) +
        (await repo.upsertObservations(rows(n, "", "forecast"))) +
        (await repo.upsertObservations([...rows(n, "", "archive"), ...rows(n, "again", "forecast")]));
      // Assess: three rows per site; the changed forecast replaced the first, the live row untouched
      expect(written, copy ? "copy" : "unnest").toBe(4 * n);
      const { rows: kinds } = await db.pool.query(
        `select kind, count(*)::int as n, count(*) filter (where payload ->> 'note' like '%again')::int as again
         from bronze.weather_observations group by kind order by kind`,
      );
      expect(kinds).toEqual([
        { kind: "archive", n, again: 0 },
        { kind: "current", n, again: 0 },
        { kind: "forecast", n, again: n },
      ]);
    }
  });
});
