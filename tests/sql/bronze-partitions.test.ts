/**
 * Bronze partitioned by UTC month (sql/migrations/0091_bronze_monthly_partitions.sql): the migration
 * moves existing rows without changing one of them, the loader makes each month's partition (and the
 * next month's, ahead) before it writes, under the ingest role that may not create tables, without
 * waiting on readers of bronze, and two writers racing for a new month both succeed. There is no default partition: a write nobody prepared
 * fails loudly instead of landing somewhere a later partition could not take it from.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { MIGRATIONS_DIR, migrate } from "#core/db/migrate.ts";
import type { BronzeRow } from "#core/ports.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";

let db: TestDatabase;
let before0091: string;

beforeAll(async () => {
  // The schema as it was before bronze was partitioned: every migration up to 0090.
  before0091 = mkdtempSync(path.join(tmpdir(), "wdo-migrations-"));
  for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => f < "0091"))
    cpSync(path.join(MIGRATIONS_DIR, f), path.join(before0091, f));
  db = await createTestDatabase({ migrate: false });
  await migrate(db.pool, before0091);
});

afterAll(async () => {
  await db?.destroy();
  rmSync(before0091, { recursive: true, force: true });
});

function row(siteId: string, observedAt: Date, temperatureC = 10): BronzeRow {
  return {
    siteId,
    source: "open-meteo",
    kind: "current",
    observedAt,
    temperatureC,
    feelsLikeC: null,
    humidityPct: 50,
    pressureHpa: 1013,
    windSpeedMs: 3,
    windGustMs: null,
    windDirectionDeg: 270,
    cloudCoverPct: 10,
    precipitationMm: 0,
    precipitationWindowMinutes: 60,
    conditionCode: "1",
    conditionSystem: "wmo",
    payload: { t: temperatureC },
    ingestionRunId: `open-meteo:${observedAt.toISOString().slice(0, 13)}`,
    ingestedAt: observedAt,
    rawObjectKey: `raw/${siteId}/${observedAt.toISOString()}.json`,
  };
}

/** Every column of every row, change_xid included: the migration must move rows, not rewrite them. */
async function checksum(): Promise<{ sum: string; n: number }> {
  const { rows } = await db.pool.query(
    `select md5(string_agg(to_jsonb(t)::text, '|' order by site_id, source, observed_at, kind)) as sum,
            count(*)::int as n
     from bronze.weather_observations t`,
  );
  return rows[0];
}

async function partitions(): Promise<string[]> {
  const { rows } = await db.pool.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'bronze.weather_observations'::regclass order by 1`,
  );
  return rows.map((r) => r.name);
}

const utc = (y: number, m: number, d = 1, h = 0) => new Date(Date.UTC(y, m - 1, d, h));
const month = (d: Date) =>
  `weather_observations_y${d.toISOString().slice(0, 4)}m${d.toISOString().slice(5, 7)}`;

describe("bronze partitioned by month", () => {
  it("the migration moves every row unchanged, into one partition per month, with the grants kept", async () => {
    // Prepare: rows in three months a year apart in the unpartitioned table (written as the loader
    // before 0091 did: one plain insert; this repository already asks for partitions).
    for (const r of [
      row("oslo", utc(2025, 1, 31, 23)),
      row("oslo", utc(2025, 2, 1, 0)),
      row("lima", utc(2026, 2, 14, 12), -3.5),
    ])
      await db.pool.query(
        `insert into bronze.weather_observations (site_id, source, observed_at, temperature_c, ingestion_run_id,
           ingested_at, raw_object_key, payload) values ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          r.siteId,
          r.source,
          r.observedAt,
          r.temperatureC,
          r.ingestionRunId,
          r.ingestedAt,
          r.rawObjectKey,
          r.payload,
        ],
      );
    const { rows: kind } = await db.pool.query(
      "select relkind from pg_class where oid = 'bronze.weather_observations'::regclass",
    );
    expect(kind[0].relkind).toBe("r");
    const old = await checksum();
    expect(old.n).toBe(3);
    // Act
    expect((await migrate(db.pool))[0]).toBe("0091_bronze_monthly_partitions");
    // Assess
    expect(await checksum()).toEqual(old);
    const { rows: strategy } = await db.pool.query(
      `select p.partstrat, a.attname from pg_partitioned_table p
       join pg_attribute a on a.attrelid = p.partrelid and a.attnum = p.partattrs[0]
       where p.partrelid = 'bronze.weather_observations'::regclass`,
    );
    expect(strategy).toEqual([{ partstrat: "r", attname: "observed_at" }]);
    const names = await partitions();
    for (const d of [utc(2025, 1), utc(2025, 2), utc(2026, 2), new Date()]) expect(names).toContain(month(d));
    const { rows: placed } = await db.pool.query(
      "select site_id, tableoid::regclass::text as part from bronze.weather_observations order by observed_at",
    );
    expect(placed.map((r) => r.part)).toEqual([
      `bronze.${month(utc(2025, 1))}`,
      `bronze.${month(utc(2025, 2))}`,
      `bronze.${month(utc(2026, 2))}`,
    ]);
    const { rows: grants } = await db.pool.query(
      `select has_table_privilege('weather_ingest', 'bronze.weather_observations', 'insert, update') as ingest,
              has_table_privilege('weather_transform', 'bronze.weather_observations', 'select') as transform,
              has_table_privilege('weather_transform', 'bronze.weather_observations', 'insert') as transform_writes,
              has_table_privilege('superset_reader', 'gold.v_data_freshness', 'select') as superset`,
    );
    expect(grants[0]).toEqual({ ingest: true, transform: true, transform_writes: false, superset: true });
  });

  it("the loader makes a new month's partition and the next one before it writes, and a rerun writes nothing", async () => {
    // Prepare
    const repo = pgBronzeRepository(db.pool);
    const at = utc(2024, 7, 15, 6);
    expect(await partitions()).not.toContain(month(at));
    // Act
    expect(await repo.upsertObservations([row("oslo", at), row("lima", at)])).toBe(2);
    // Assess
    const names = await partitions();
    expect(names).toContain(month(at));
    expect(names).toContain(month(utc(2024, 8)));
    expect(names).not.toContain(month(utc(2024, 9)));
    expect(await repo.upsertObservations([row("oslo", at), row("lima", at)])).toBe(0);
  });

  it("as weather_ingest: may not create a table, yet its writes make their partitions (server only)", async (ctx) => {
    if (db.embedded) ctx.skip(); // PGlite has one session and no logins to switch to
    const client = await db.pool.connect();
    try {
      await client.query("set role weather_ingest");
      await expect(
        client.query(
          `create table bronze.intruder partition of bronze.weather_observations
           for values from ('2023-01-01') to ('2023-02-01')`,
        ),
      ).rejects.toMatchObject({ code: "42501" });
      const created = await client.query(
        "select bronze.ensure_observation_partitions('2023-01-10', '2023-01-10') as n",
      );
      expect(created.rows[0].n).toBe(1);
      const { rows } = await client.query(
        "select relowner::regrole::text as owner from pg_class where relname = $1",
        [month(utc(2023, 1))],
      );
      expect(rows[0].owner).not.toBe("weather_ingest");
    } finally {
      await client.query("reset role");
      client.release();
    }
  });

  it("two writers racing for the same new month both succeed, and make it once", async () => {
    const at = utc(2022, 3, 3, 3);
    const results = await Promise.all([
      pgBronzeRepository(db.pool).upsertObservations([row("oslo", at)]),
      pgBronzeRepository(db.pool).upsertObservations([row("lima", at)]),
    ]);
    expect(results).toEqual([1, 1]);
    expect((await partitions()).filter((n) => n === month(at))).toHaveLength(1);
  });

  it("a new month is attached while a long reader holds bronze, without waiting for it", async (ctx) => {
    if (db.embedded) ctx.skip(); // one session: nobody else can hold a lock
    // Prepare: a long reader (a transform) holds bronze; neither this month nor the next exists.
    const at = utc(2021, 5, 5, 5);
    const reader = await db.pool.connect();
    try {
      await reader.query("begin");
      await reader.query("select count(*) from bronze.weather_observations");
      // Act: the write makes May and June and lands (creating them as partitions of bronze would
      // wait for an exclusive lock behind the reader: the race's timer would win)
      const write = pgBronzeRepository(db.pool).upsertObservations([row("oslo", at)]);
      const waited = new Promise((resolve) => setTimeout(() => resolve("waited for the reader"), 5_000));
      expect(await Promise.race([write, waited])).toBe(1);
      // Assess
      const names = await partitions();
      expect(names).toContain(month(at));
      expect(names).toContain(month(utc(2021, 6)));
    } finally {
      await reader.query("rollback");
      reader.release();
    }
  });

  it("has no default partition: a row for a month nobody prepared is refused, not parked", async () => {
    await expect(
      db.pool.query(
        `insert into bronze.weather_observations (site_id, source, observed_at, ingestion_run_id, ingested_at,
           raw_object_key, payload) values ('x', 'open-meteo', '1999-01-01', 'r', now(), 'k', '{}')`,
      ),
    ).rejects.toThrow(/no partition of relation "weather_observations" found for row/);
  });

  it("refuses an empty or reversed range", async () => {
    await expect(
      db.pool.query("select bronze.ensure_observation_partitions('2026-02-01', '2026-01-01')"),
    ).rejects.toThrow(/need from_ts <= to_ts/);
  });
});
