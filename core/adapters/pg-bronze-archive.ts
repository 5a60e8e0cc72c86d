/**
 * Bronze retention in Postgres (the {@link BronzeArchiveStore} port): reads a UTC month of
 * bronze.weather_observations out in key order, and moves it out of or back into the table in one
 * transaction each, checked by a full-row checksum computed in SQL.
 *
 * The checksum of a set of rows is md5 over the concatenated md5 of each row's text
 * (`row(every column)::text`) in key order (site_id, source, observed_at, kind): every column of every
 * row counts, and memory stays at 32 bytes a row (one md5 over all the rows' text could pass
 * Postgres's 1 GB limit for a big month). Row text depends on session settings, so every statement
 * here runs with them fixed (UTC, ISO dates, shortest exact floats): the same rows give the same
 * checksum in any session, on a server or on PGlite.
 */
import type pg from "pg";
import {
  type ArchiveColumn,
  type ArchiveEncoding,
  type ArchiveValue,
  ArchiveVerificationError,
  BRONZE_COLUMNS,
  BRONZE_KEY,
  type BronzeBatch,
  type Month,
  monthOf,
  monthRange,
  RestoreRefusedError,
} from "../domain/bronze-archive.ts";
import type { ArchivedMonth, BronzeArchiveStore, MonthFingerprint } from "../ports.ts";

const BRONZE = "bronze.weather_observations";
const RECORDS = "ops.bronze_archived_months";
/** Rows per insert statement when loading a batch (21 array parameters each). */
const INSERT_ROWS = 5_000;

/** Postgres's name (format_type) of the type each encoding carries. */
const PG_TYPE: Record<ArchiveEncoding, string> = {
  text: "text",
  float8: "double precision",
  int4: "integer",
  timestamptz: "timestamp with time zone",
  jsonb: "jsonb",
  xid8: "xid8",
};

/** A month's partition of bronze (migration 0091 names them `weather_observations_yYYYYmMM`). */
const partitionOf = (month: Month) =>
  `bronze.weather_observations_y${month.slice(0, 4)}m${month.slice(5, 7)}`;

const columnList = BRONZE_COLUMNS.map((c) => c.name).join(", ");
const keyOrder = BRONZE_KEY.join(", ");

/** Fingerprint of `from` (a table or a CTE), optionally only the rows of `[start, end)`. */
const fingerprintSql = (from: string, where = "") =>
  `select count(*)::int8 as rows,
          md5(coalesce(string_agg(md5(row(${columnList})::text), '' order by ${keyOrder}), '')) as checksum
     from ${from} ${where}`;

/** Select expression of a column in its archive encoding (timestamps as µs since the epoch, as text). */
function exportExpr(c: ArchiveColumn): string {
  switch (c.encoding) {
    case "timestamptz":
      // extract(epoch …) is numeric (Postgres ≥ 14): exact to the microsecond.
      return `((extract(epoch from ${c.name}) * 1000000)::int8)::text as ${c.name}`;
    case "jsonb":
    case "xid8":
      return `${c.name}::text as ${c.name}`;
    default:
      return c.name;
  }
}

/** The array type a column's values are sent as, and how the inserted value is cast from it. */
const IMPORT: Record<ArchiveEncoding, { array: string; cast: string }> = {
  text: { array: "text[]", cast: "" },
  float8: { array: "float8[]", cast: "" },
  int4: { array: "int4[]", cast: "" },
  timestamptz: { array: "timestamptz[]", cast: "" },
  jsonb: { array: "text[]", cast: "::jsonb" },
  xid8: { array: "text[]", cast: "::xid8" },
};

const insertSql = (table: string) =>
  `insert into ${table} (${columnList})
   select ${BRONZE_COLUMNS.map((c, i) => `u.c${i}${IMPORT[c.encoding].cast}`).join(", ")}
     from unnest(${BRONZE_COLUMNS.map((c, i) => `$${i + 1}::${IMPORT[c.encoding].array}`).join(", ")})
       as u(${BRONZE_COLUMNS.map((_, i) => `c${i}`).join(", ")})`;

/** `2025-11-01T00:00:00.123456+00` from µs since the epoch: exact, whatever the session's time zone. */
export function timestampText(micros: bigint): string {
  let seconds = micros / 1_000_000n;
  let fraction = micros % 1_000_000n;
  if (fraction < 0n) {
    fraction += 1_000_000n;
    seconds -= 1n;
  }
  const iso = new Date(Number(seconds) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${fraction.toString().padStart(6, "0")}+00`;
}

/** A double as text Postgres reads back to the same double (String(-0) would lose the sign). */
const floatText = (v: number) => (Object.is(v, -0) ? "-0" : String(v));

function importValue(encoding: ArchiveEncoding, v: ArchiveValue): string | number | null {
  if (v === null) return null;
  if (encoding === "timestamptz") return timestampText(BigInt(v));
  if (encoding === "float8") return floatText(Number(v));
  return typeof v === "bigint" ? v.toString() : v;
}

function exportValue(encoding: ArchiveEncoding, v: unknown): ArchiveValue {
  if (v === null || v === undefined) return null;
  if (encoding === "timestamptz") return BigInt(v as string);
  return v as ArchiveValue;
}

async function fixSessionText(client: pg.PoolClient): Promise<void> {
  await client.query("set local timezone = 'UTC'");
  await client.query("set local datestyle = 'ISO, YMD'");
  await client.query("set local extra_float_digits = 1");
}

/** Fails unless bronze has exactly the columns (names, types, order) the archive format carries. */
async function checkColumns(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ name: string; type: string }>(
    `select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
      where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum`,
    [BRONZE],
  );
  const actual = rows.map((r) => `${r.name} ${r.type}`).join(", ");
  const expected = BRONZE_COLUMNS.map((c) => `${c.name} ${PG_TYPE[c.encoding]}`).join(", ");
  if (actual !== expected)
    throw new Error(
      `${BRONZE} has the columns (${actual}), the archive format carries (${expected}): a migration ` +
        "changed bronze without teaching the archive (core/domain/bronze-archive.ts, BRONZE_COLUMNS). Nothing was archived or restored.",
    );
}

async function fingerprint(
  client: pg.PoolClient,
  from: string,
  range?: { start: Date; end: Date },
): Promise<MonthFingerprint> {
  const { rows } = range
    ? await client.query<MonthFingerprint>(
        fingerprintSql(from, "where observed_at >= $1 and observed_at < $2"),
        [range.start, range.end],
      )
    : await client.query<MonthFingerprint>(fingerprintSql(from));
  return { rows: Number(rows[0]?.rows ?? 0), checksum: rows[0]?.checksum ?? "" };
}

async function insertBatch(client: pg.PoolClient, table: string, batch: BronzeBatch): Promise<void> {
  const sql = insertSql(table);
  for (let from = 0; from < batch.rows; from += INSERT_ROWS) {
    const to = Math.min(from + INSERT_ROWS, batch.rows);
    const params = BRONZE_COLUMNS.map((c, i) =>
      (batch.columns[i] ?? []).slice(from, to).map((v) => importValue(c.encoding, v)),
    );
    await client.query(sql, params);
  }
}

const same = (a: MonthFingerprint, b: MonthFingerprint) => a.rows === b.rows && a.checksum === b.checksum;
const describe = (f: MonthFingerprint) => `${f.rows} rows, checksum ${f.checksum}`;

/** Runs `fn` in a transaction on one client (embedded: the only session), rolling back on any error. */
async function inTransaction<T>(
  pool: pg.Pool,
  begin: string,
  fn: (c: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    try {
      await fixSessionText(client);
      const out = await fn(client);
      await client.query("commit");
      return out;
    } catch (e) {
      await client.query("rollback").catch(() => {});
      throw e;
    }
  } finally {
    client.release();
  }
}

export function pgBronzeArchive(pool: pg.Pool): BronzeArchiveStore {
  return {
    async archivedMonths() {
      const { rows } = await pool.query<{
        month: string;
        row_count: number;
        checksum: string;
        raw_store: string;
        manifest_key: string;
        archived_at: Date;
      }>(
        `select month, row_count, checksum, raw_store, manifest_key, archived_at from ${RECORDS} order by month`,
      );
      return rows.map(
        (r): ArchivedMonth => ({
          month: r.month,
          rows: Number(r.row_count),
          checksum: r.checksum,
          rawStore: r.raw_store,
          manifestKey: r.manifest_key,
          archivedAt: r.archived_at,
        }),
      );
    },

    async monthsWithRows(before) {
      // One index probe per month (min over the observed_at index), not a scan of the old rows.
      const cutoff = monthRange(before).start;
      const months: Month[] = [];
      let from: Date | null = null;
      for (;;) {
        const { rows } = await pool.query<{ first: Date | null }>(
          `select min(observed_at) as first from ${BRONZE}
            where ($1::timestamptz is null or observed_at >= $1) and observed_at < $2`,
          [from, cutoff],
        );
        const first = rows[0]?.first;
        if (!first) return months;
        const month = monthOf(first);
        months.push(month);
        from = monthRange(month).end;
      }
    },

    async exportMonth(month, batchRows, onBatch) {
      const { start, end } = monthRange(month);
      return inTransaction(pool, "begin isolation level repeatable read read only", async (client) => {
        await checkColumns(client);
        const fp = await fingerprint(client, BRONZE, { start, end });
        // Literal bounds (generated here, not user text): a cursor's query takes no bind parameters.
        await client.query(
          `declare bronze_month no scroll cursor for
             select ${BRONZE_COLUMNS.map(exportExpr).join(", ")} from ${BRONZE}
              where observed_at >= '${start.toISOString()}' and observed_at < '${end.toISOString()}'
              order by ${keyOrder}`,
        );
        let read = 0;
        for (;;) {
          const { rows } = await client.query<Record<string, unknown>>(
            `fetch forward ${Math.floor(batchRows)} from bronze_month`,
          );
          if (rows.length === 0) break;
          read += rows.length;
          await onBatch({
            rows: rows.length,
            columns: BRONZE_COLUMNS.map((c) => rows.map((r) => exportValue(c.encoding, r[c.name]))),
          });
          if (rows.length < batchRows) break;
        }
        await client.query("close bronze_month");
        if (read !== fp.rows) throw new Error(`read ${read} rows of ${month}, the snapshot holds ${fp.rows}`);
        return fp;
      });
    },

    async completeArchive(record, batches) {
      const { start, end } = monthRange(record.month);
      return inTransaction(pool, "begin", async (client) => {
        await checkColumns(client);
        // The record first: its key serializes two archives of one month (the second waits, then
        // finds it and gives up without touching bronze).
        const { rowCount } = await client.query(
          `insert into ${RECORDS} (month, range_start, range_end, row_count, checksum, raw_store, manifest_key)
           values ($1, $2, $3, $4, $5, $6, $7) on conflict (month) do nothing`,
          [record.month, start, end, record.rows, record.checksum, record.rawStore, record.manifestKey],
        );
        if (rowCount === 0) return false; // nothing written: committing is a no-op
        await client.query(`create temp table archive_check (like ${BRONZE}) on commit drop`);
        for await (const batch of batches) await insertBatch(client, "pg_temp.archive_check", batch);
        const decoded = await fingerprint(client, "pg_temp.archive_check");
        if (!same(decoded, record))
          throw new ArchiveVerificationError(
            `The archive of ${record.month} (${record.manifestKey} in ${record.rawStore}) reads back as ` +
              `${describe(decoded)}; bronze's month was ${describe(record)}. Nothing was deleted; the objects ` +
              "stay in the raw store for inspection. Run `weather archive` again (it writes a new copy).",
          );
        // The month's partition (migration 0091): its writers wait from here to the commit, then its
        // rows must be the ones archived, and it leaves bronze whole. Detaching takes an exclusive
        // lock on bronze for a moment (waiting for running reads, at most DB_LOCK_TIMEOUT_MS).
        const partition = partitionOf(record.month);
        await client.query(`lock table ${partition} in share mode`);
        const held = await fingerprint(client, partition);
        if (!same(held, record))
          throw new ArchiveVerificationError(
            `Bronze's rows of ${record.month} changed while they were archived (now ${describe(held)}, ` +
              `archived ${describe(record)}): nothing was detached. Run \`weather archive\` again.`,
          );
        await client.query(`alter table ${BRONZE} detach partition ${partition}`);
        await client.query(`drop table ${partition}`);
        return true;
      });
    },

    async restoreMonth(month, expected, batches) {
      const range = monthRange(month);
      return inTransaction(pool, "begin", async (client) => {
        await checkColumns(client);
        const { rows: records } = await client.query<{ row_count: number; checksum: string }>(
          `select row_count, checksum from ${RECORDS} where month = $1 for update`,
          [month],
        );
        const record = records[0];
        if (!record)
          throw new RestoreRefusedError(
            `${month} is not archived (no row in ${RECORDS}): nothing to restore.`,
          );
        const recorded = { rows: Number(record.row_count), checksum: record.checksum };
        if (!same(recorded, expected))
          throw new ArchiveVerificationError(
            `The manifest of ${month} says ${describe(expected)}, the database recorded ${describe(recorded)} ` +
              "when it archived the month: the manifest is not the one archived. Nothing was restored.",
          );
        const present = await fingerprint(client, BRONZE, range);
        if (present.rows > 0)
          throw new RestoreRefusedError(
            `Bronze already holds ${present.rows} rows of the archived month ${month} (loaded after it was ` +
              "archived: a backfill or replay into the month). Restore does not mix them with the archive: " +
              `delete them (observed_at in [${range.start.toISOString()}, ${range.end.toISOString()})) if the ` +
              "archive should win, then run `weather restore` again. Nothing was restored.",
          );
        // The month's partition again (made as the repository makes any), then its rows.
        await client.query("select bronze.ensure_observation_partitions($1, $1)", [range.start]);
        for await (const batch of batches) await insertBatch(client, BRONZE, batch);
        const restored = await fingerprint(client, BRONZE, range);
        if (!same(restored, expected))
          throw new ArchiveVerificationError(
            `The archive of ${month} restores as ${describe(restored)}, its manifest says ${describe(expected)}: ` +
              "the objects are corrupt or not the ones archived. Nothing was restored; the month stays archived.",
          );
        await client.query(`delete from ${RECORDS} where month = $1`, [month]);
        return restored;
      });
    },
  };
}
