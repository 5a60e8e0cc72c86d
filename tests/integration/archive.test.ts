/**
 * Bronze retention (core/use-cases/archive.ts): a month goes to Parquet in a filesystem raw store and
 * comes back exactly — full-row checksums (every column, change_xid included) before the archive
 * equal those after the restore — and a corrupt object or manifest changes nothing.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { pgBronzeArchive } from "#core/adapters/pg-bronze-archive.ts";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { ArchiveVerificationError, RestoreRefusedError } from "#core/domain/bronze-archive.ts";
import type { RawStore } from "#core/ports.ts";
import { type ArchiveDeps, archiveExpired, archiveMonth, restoreMonth } from "#core/use-cases/archive.ts";
import {
  type ArchiveManifest,
  decodeParquet,
  encodeParquet,
  sha256,
} from "#core/use-cases/archive-format.ts";
import { rebuildAll, runTransform } from "#core/use-cases/transform.ts";
import { type CliResult, weather } from "#tests/faults/support/cli.ts";
import { checksum, openWarehouse, type Warehouse } from "#tests/faults/support/warehouse.ts";
import { FIXTURE_INTERVAL, loadFixture } from "#tests/fixtures/golden/bronze.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";

let db: TestDatabase;
let dir: string;
let raw: RawStore;
const NOW = new Date("2026-12-07T10:00:00Z");

const deps = (over: Partial<ArchiveDeps> = {}): ArchiveDeps => ({
  rawStore: raw,
  store: pgBronzeArchive(db.pool),
  now: () => NOW,
  partRows: 3, // several parts even for a handful of rows
  ...over,
});

/** Every column of bronze, every row (the same total-order checksum the fault suite uses). */
const bronzeSum = () => checksum(db.pool, "bronze.weather_observations");
const monthSum = (from: string, to: string) =>
  checksum(
    db.pool,
    `(select * from bronze.weather_observations where observed_at >= '${from}' and observed_at < '${to}')`,
  );

/**
 * Rows that test every encoding at its edge: microsecond timestamps at the month's bounds, -0, NaN and
 * infinities, nulls, a jsonb with a numeric no double holds and non-ASCII text, explicit change_xids
 * (one above 2^53) and every kind.
 */
async function insertEdgeRows(pool: pg.Pool = db.pool): Promise<void> {
  await pool.query("select bronze.ensure_observation_partitions('2025-10-01Z', '2025-12-01Z')");
  await pool.query(
    `insert into bronze.weather_observations (
       site_id, source, observed_at, temperature_c, feels_like_c, humidity_pct, pressure_hpa, wind_speed_ms,
       wind_gust_ms, wind_direction_deg, cloud_cover_pct, precipitation_mm, precipitation_window_minutes,
       condition_code, condition_system, ingestion_run_id, ingested_at, raw_object_key, payload, change_xid, kind)
     values
       ('oslo', 'open-meteo', '2025-10-31T23:59:59.999999Z', 1.5, null, 80, 1013.25, 3, null, 270, 50, 0, 60,
        '3', 'wmo', 'r-oct', '2025-11-01T00:05:00.123456Z', 'k/oct', '{"a":1}', '900', 'current'),
       ('oslo', 'open-meteo', '2025-11-01T00:00:00Z', -0.0, 'NaN', 'Infinity', '-Infinity', 0.1, 0.30000000000000004,
        359.99999999999994, null, 1e-300, null, null, null, 'r-nov', '2025-11-01T00:10:00.000001Z', 'k/nov-1',
        '{"big": 12345678901234567890.123456789, "t": "Trondheim – ÆØÅ \\"q\\" \\\\ 𝄞", "n": null}', '9007199254740993',
        'current'),
       ('oslo', 'open-meteo', '2025-11-15T12:00:00.5Z', 2, 1, 70, 1000, 4, 6, 90, 100, 1.25, 15, '61', 'wmo',
        'r-nov', '2025-11-15T12:01:02.345678Z', 'k/nov-2', '[1, 2.50, {"x": []}]', '0', 'archive'),
       ('oslo', 'open-meteo', '2025-11-15T12:00:00.5Z', 2.1, 1.1, 71, 1001, 4.1, 6.1, 91, 99, 1.3, 60, '61', 'wmo',
        'r-nov-f', '2025-11-15T12:01:02Z', 'k/nov-3', '{}', '12', 'forecast'),
       ('bergen', 'simulator', '2025-11-30T23:59:59.999999Z', -40, -45.5, 100, 950, 30, 45, 0, 0, 25.4, 60, '95',
        'wmo', 'r-nov-2', '2025-12-01T00:00:00Z', 'k/nov-4', '{"nested": {"deep": [true, false, null]}}', '13',
        'current'),
       ('bergen', 'simulator', '2025-12-01T00:00:00Z', 5, 4, 90, 990, 2, 3, 180, 75, 0, 60, '1', 'wmo', 'r-dec',
        '2025-12-01T00:30:00Z', 'k/dec', '{}', '14', 'current')`,
  );
}

/** Bronze's monthly partitions (migration 0091) between 2025-10 and 2025-12: the month archived leaves. */
async function partitions(): Promise<string[]> {
  const { rows } = await db.pool.query<{ name: string }>(
    `select c.relname as name from pg_inherits as i join pg_class as c on c.oid = i.inhrelid
      where i.inhparent = 'bronze.weather_observations'::regclass and c.relname between $1 and $2 order by 1`,
    ["weather_observations_y2025m10", "weather_observations_y2025m12"],
  );
  return rows.map((r) => r.name);
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.destroy();
});
beforeEach(async () => {
  await db.pool.query("truncate bronze.weather_observations, ops.bronze_archived_months");
  dir = await mkdtemp(join(tmpdir(), "wdo-archive-"));
  raw = fsRawStore(dir);
  await insertEdgeRows();
  return () => rm(dir, { recursive: true, force: true });
});

describe("weather archive / restore", () => {
  it("round-trips a month exactly and removes exactly that month's rows", async () => {
    // Prepare
    const before = await bronzeSum();
    const others = await checksum(
      db.pool,
      `(select * from bronze.weather_observations where observed_at < '2025-11-01' or observed_at >= '2025-12-01')`,
    );
    // Act
    const archived = await archiveMonth(deps(), "2025-11");
    // Assess: four rows out (boundaries: 00:00 of the 1st is in, 00:00 of the next month out), two stay
    expect(archived).toMatchObject({ status: "archived", rows: 4, parts: 2 });
    const after = await bronzeSum();
    expect(after).toEqual({ ...others, table: after.table });
    expect(after.rows).toBe(2);
    const keys = await raw.list("archive/bronze/month=2025-11/");
    expect(keys.filter((k) => k.endsWith(".parquet"))).toHaveLength(2);
    expect(keys.filter((k) => k.endsWith("manifest.json"))).toHaveLength(1);
    expect(await pgBronzeArchive(db.pool).archivedMonths()).toMatchObject([{ month: "2025-11", rows: 4 }]);
    expect(await partitions()).toEqual(["weather_observations_y2025m10", "weather_observations_y2025m12"]);

    // Act
    const restored = await restoreMonth(deps(), "2025-11");
    // Assess
    expect(restored).toMatchObject({
      status: "restored",
      rows: 4,
      checksum: archived.status === "archived" ? archived.checksum : "",
    });
    expect(await bronzeSum()).toEqual(before);
    expect(await pgBronzeArchive(db.pool).archivedMonths()).toEqual([]);
    expect(await partitions()).toContain("weather_observations_y2025m11");
  });

  it("re-archiving an archived month is a no-op; a month without rows says so; a month not over is refused", async () => {
    const first = await archiveMonth(deps(), "2025-11");
    const files = await raw.list("archive/");
    const again = await archiveMonth(deps(), "2025-11");
    expect(again).toMatchObject({ status: "already-archived", rows: 4 });
    expect(first.status === "archived" && again.status === "already-archived" && again.manifestKey).toBe(
      first.status === "archived" && first.manifestKey,
    );
    expect(await raw.list("archive/")).toEqual(files);
    expect(await archiveMonth(deps(), "2024-02")).toEqual({ month: "2024-02", status: "empty", rows: 0 });
    await expect(archiveMonth(deps(), "2026-12")).rejects.toThrow(/not over/);
  });

  it("without a month, archives every month before the retention cutoff", async () => {
    const out = await archiveExpired(deps({ now: () => new Date("2026-11-20T00:00:00Z") }), {
      retentionMonths: 12,
    });
    expect(out.keepFrom).toBe("2025-11");
    expect(out.months.map((m) => [m.month, m.status])).toEqual([["2025-10", "archived"]]);
    const later = await archiveExpired(deps(), { retentionMonths: 12 });
    expect(later.months.map((m) => [m.month, m.status])).toEqual([["2025-11", "archived"]]);
    expect((await bronzeSum()).rows).toBe(1);
  });

  it("a corrupt Parquet object makes restore fail and leaves bronze and the record as they were", async () => {
    const archived = await archiveMonth(deps(), "2025-11");
    if (archived.status !== "archived") throw new Error("not archived");
    const part = (await raw.list("archive/bronze/month=2025-11/")).find((k) =>
      k.endsWith("part-0002.parquet"),
    );
    const path = join(dir, String(part));
    const bytes = await readFile(path);
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
    await writeFile(path, bytes);
    const bronze = await bronzeSum();

    await expect(restoreMonth(deps(), "2025-11")).rejects.toBeInstanceOf(ArchiveVerificationError);
    expect(await bronzeSum()).toEqual(bronze);
    expect(await pgBronzeArchive(db.pool).archivedMonths()).toHaveLength(1);
  });

  it("a part rewritten with one value changed (its sha256 updated in the manifest) fails the row checksum", async () => {
    // Only the full-row checksum can catch this one: the object is valid Parquet of the right size
    // class and the manifest vouches for its bytes.
    const archived = await archiveMonth(deps(), "2025-11");
    if (archived.status !== "archived") throw new Error("not archived");
    const manifestPath = join(dir, archived.manifestKey);
    const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as ArchiveManifest;
    const part = manifest.parts[0];
    if (!part) throw new Error("no part");
    const batch = await decodeParquet(new Uint8Array(await readFile(join(dir, part.key))));
    const temperature = batch.columns[3];
    if (!temperature) throw new Error("no temperature column");
    temperature[0] = 21.5;
    const forged = encodeParquet(batch);
    await writeFile(join(dir, part.key), forged);
    manifest.parts[0] = { ...part, bytes: forged.byteLength, sha256: sha256(forged) };
    await writeFile(manifestPath, JSON.stringify(manifest));
    const bronze = await bronzeSum();

    await expect(restoreMonth(deps(), "2025-11")).rejects.toThrow(
      /restores as 4 rows, checksum .*manifest says/,
    );
    expect(await bronzeSum()).toEqual(bronze);
    expect(await pgBronzeArchive(db.pool).archivedMonths()).toHaveLength(1);
  });

  it("a corrupt or replaced manifest makes restore fail without changing bronze", async () => {
    const archived = await archiveMonth(deps(), "2025-11");
    if (archived.status !== "archived") throw new Error("not archived");
    const manifestPath = join(dir, archived.manifestKey);
    const original = await readFile(manifestPath, "utf8");
    const bronze = await bronzeSum();

    await writeFile(manifestPath, original.slice(0, 100));
    await expect(restoreMonth(deps(), "2025-11")).rejects.toThrow(/is not JSON/);
    const manifest = JSON.parse(original) as ArchiveManifest;
    await writeFile(manifestPath, JSON.stringify({ ...manifest, checksum: "0".repeat(32) }));
    await expect(restoreMonth(deps(), "2025-11")).rejects.toThrow(/the manifest is not the one archived/);

    expect(await bronzeSum()).toEqual(bronze);
    expect(await pgBronzeArchive(db.pool).archivedMonths()).toHaveLength(1);
  });

  it("a row landing in the month while its parts are written stops the archive; nothing is detached", async () => {
    // Prepare: the manifest's put (after the export's snapshot) lets a late writer land a row first.
    const before = await bronzeSum();
    const late = `insert into bronze.weather_observations (site_id, source, observed_at, ingestion_run_id,
      ingested_at, raw_object_key, payload) values ('oslo', 'open-meteo', '2025-11-03T00:00:00Z', 'late', now(), 'k', '{}')`;
    const racing = {
      ...raw,
      put: async (key: string, body: string) => {
        await db.pool.query(late);
        await raw.put(key, body);
      },
    };
    // Act / Assess
    await expect(archiveMonth(deps({ rawStore: racing }), "2025-11")).rejects.toThrow(
      /changed while they were archived/,
    );
    expect((await bronzeSum()).rows).toBe(before.rows + 1);
    expect(await partitions()).toContain("weather_observations_y2025m11");
    expect(await pgBronzeArchive(db.pool).archivedMonths()).toEqual([]);
  });

  it("restore refuses a month that is not archived, or whose rows came back into bronze meanwhile", async () => {
    await expect(restoreMonth(deps(), "2025-11")).rejects.toBeInstanceOf(RestoreRefusedError);
    await archiveMonth(deps(), "2025-11");
    // A late writer makes the month's partition again (as the repository does), then its row.
    await db.pool.query("select bronze.ensure_observation_partitions('2025-11-02Z', '2025-11-02Z')");
    await db.pool.query(
      `insert into bronze.weather_observations (site_id, source, observed_at, ingestion_run_id, ingested_at,
         raw_object_key, payload) values ('oslo', 'open-meteo', '2025-11-02T00:00:00Z', 'late', now(), 'k', '{}')`,
    );
    await expect(restoreMonth(deps(), "2025-11")).rejects.toThrow(/already holds 1 rows/);
    expect(await pgBronzeArchive(db.pool).archivedMonths()).toHaveLength(1);
  });

  it("silver and gold keep an archived month's rows", async () => {
    await loadFixture(db.pool);
    await rebuildAll(pgOpsPorts(db.pool), { interval: FIXTURE_INTERVAL });
    const silver = await checksum(db.pool, "silver.observations");
    const gold = await checksum(db.pool, "gold_internal.site_hourly");
    expect(silver.rows).toBeGreaterThan(0);

    await archiveMonth(deps(), "2026-03");
    await runTransform(pgOpsPorts(db.pool), { layer: "silver", interval: FIXTURE_INTERVAL });
    await runTransform(pgOpsPorts(db.pool), { layer: "gold", interval: FIXTURE_INTERVAL });

    expect(await checksum(db.pool, "silver.observations")).toEqual(silver);
    expect(await checksum(db.pool, "gold_internal.site_hourly")).toEqual(gold);
    expect((await monthSum("2026-03-01", "2026-04-01")).rows).toBe(0);
  });
});

describe("the weather CLI", () => {
  // Server: the test's database. Embedded: the home's own PGlite, migrated by the CLI, seeded here
  // while no CLI process holds it.
  const warehouse = (home: string): Warehouse => ({
    home,
    url: process.env.DATABASE_URL ? db.url : undefined,
  });
  const withWarehouse = async <T>(home: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> => {
    const w = await openWarehouse(warehouse(home));
    try {
      return await fn(w.pool);
    } finally {
      await w.close();
    }
  };

  it("archives and restores with --json, and transform --full refuses while a month is archived (exit 2)", async () => {
    const home = await mkdtemp(join(tmpdir(), "wdo-archive-cli-"));
    try {
      const w = warehouse(home);
      const run = (...args: string[]): Promise<CliResult> =>
        weather([...args, "--home", home, "--raw", dir, ...(w.url ? ["--db", w.url] : [])], {
          timeoutMs: 120_000,
        });
      expect((await run("migrate")).code).toBe(0);
      if (!w.url) await withWarehouse(home, insertEdgeRows);
      const before = await withWarehouse(home, (pool) => checksum(pool, "bronze.weather_observations"));

      const archived = await run("archive", "--month", "2025-11", "--json");
      expect(archived.code).toBe(0);
      expect(JSON.parse(archived.stdout).months[0]).toMatchObject({
        month: "2025-11",
        status: "archived",
        rows: 4,
      });
      expect(archived.stderr).toContain("2025-11: wrote 4 rows");

      const again = await run("archive", "--month", "2025-11");
      expect(again.code).toBe(0);
      expect(again.stderr).toContain("already archived");

      const full = await run("transform", "--full", "--json");
      expect(full.code).toBe(2);
      expect(JSON.parse(full.stdout).error.message).toContain("weather restore --month 2025-11");

      // Landing rows in an archived month is refused too (restore would then refuse the month).
      const replay = await run("replay", "--from", "2025-11-30T00", "--to", "2025-12-01T03");
      expect(replay.code).toBe(2);
      expect(replay.stderr).toContain("covers the archived month(s) 2025-11");
      const backfill = await run(
        "backfill",
        "--from",
        "2025-10-31T23",
        "--to",
        "2025-11-01T00",
        "--catch-up",
        "skip",
      );
      expect(backfill.code).toBe(2);
      expect(backfill.stderr).toContain("weather restore --month 2025-11");

      const bad = await run("restore", "--month", "2025-13", "--json");
      expect(bad.code).toBe(2);

      const restored = await run("restore", "--month", "2025-11", "--json");
      expect(restored.code).toBe(0);
      expect(JSON.parse(restored.stdout)).toMatchObject({ month: "2025-11", status: "restored", rows: 4 });
      expect(await withWarehouse(home, (pool) => checksum(pool, "bronze.weather_observations"))).toEqual(
        before,
      );

      const notArchived = await run("restore", "--month", "2025-11");
      expect(notArchived.code).toBe(2);
      expect(notArchived.stderr).toContain("2025-11 is not archived");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 240_000);
});
