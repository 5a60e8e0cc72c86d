/**
 * Bronze retention: the UTC month an archive covers, and how each bronze column is carried through
 * Parquet without loss (docs/decisions.md, "Bronze retention"). Pure: the Postgres adapter
 * (adapters/pg-bronze-archive.ts) and the Parquet codec (use-cases/archive-format.ts) both read it.
 */

/** A UTC month, `YYYY-MM`. */
export type Month = string;

/** A month flag that is not `YYYY-MM`, or a month that cannot be archived yet. */
export class MonthError extends Error {
  override name = "MonthError";
}

/**
 * What an archive or a restore read back is not what it wrote or expected: a corrupt or replaced
 * object or manifest, or bronze changed while archiving. Nothing was changed in the database.
 */
export class ArchiveVerificationError extends Error {
  override name = "ArchiveVerificationError";
}

/** Restore cannot start: the month is not archived, or bronze already holds rows of it. */
export class RestoreRefusedError extends Error {
  override name = "RestoreRefusedError";
}

const MONTH_RE = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** Parses `YYYY-MM`; throws {@link MonthError} naming `what` (e.g. `--month`). */
export function parseMonth(text: string, what = "month"): Month {
  if (!MONTH_RE.test(text)) throw new MonthError(`${what}: expected a UTC month like 2025-11, got "${text}"`);
  return text;
}

/** The half-open range of instants `[start, end)` the month covers. */
export function monthRange(month: Month): { start: Date; end: Date } {
  const m = MONTH_RE.exec(month);
  if (!m) throw new MonthError(`not a month: ${month}`);
  const year = Number(m[1]);
  const index = Number(m[2]) - 1;
  return { start: new Date(Date.UTC(year, index, 1)), end: new Date(Date.UTC(year, index + 1, 1)) };
}

/** The month an instant falls in. */
export function monthOf(instant: Date): Month {
  return instant.toISOString().slice(0, 7);
}

/** The month `n` months before `month` (n may be negative). */
export function monthsBefore(month: Month, n: number): Month {
  const { start } = monthRange(month);
  return monthOf(new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() - n, 1)));
}

/**
 * The first month retention keeps: with `retentionMonths` 24 in 2026-12, 2024-12 (months before it
 * are archived by `weather archive` without `--month`).
 */
export function retentionCutoff(now: Date, retentionMonths: number): Month {
  return monthsBefore(monthOf(now), retentionMonths);
}

/**
 * How a column travels: `text` as a Parquet UTF8 string; `float8` as DOUBLE (Postgres prints the
 * shortest text that reads back to the same double, and JavaScript numbers are doubles); `int4` as
 * INT32; `timestamptz` as INT64 microseconds since the epoch, TIMESTAMP(MICROS, UTC) — Postgres's own
 * resolution, exact where a JavaScript Date (milliseconds) is not; `jsonb` as a UTF8 string of jsonb's
 * canonical text (jsonb → text → jsonb is the identity; Parquet's JSON type would go through
 * JSON.parse, whose doubles round numerics); `xid8` as a UTF8 string of its decimal value (64-bit
 * unsigned: no Parquet INT64 holds every value).
 */
export type ArchiveEncoding = "text" | "float8" | "int4" | "timestamptz" | "jsonb" | "xid8";

export interface ArchiveColumn {
  name: string;
  encoding: ArchiveEncoding;
  nullable: boolean;
}

/**
 * Every column of bronze.weather_observations, in table order (migrations 0001, 0060, 0070). An
 * archive checks the table against this list first: a column added later must be added here, or the
 * archive would silently drop it.
 */
export const BRONZE_COLUMNS: readonly ArchiveColumn[] = [
  { name: "site_id", encoding: "text", nullable: false },
  { name: "source", encoding: "text", nullable: false },
  { name: "observed_at", encoding: "timestamptz", nullable: false },
  { name: "temperature_c", encoding: "float8", nullable: true },
  { name: "feels_like_c", encoding: "float8", nullable: true },
  { name: "humidity_pct", encoding: "float8", nullable: true },
  { name: "pressure_hpa", encoding: "float8", nullable: true },
  { name: "wind_speed_ms", encoding: "float8", nullable: true },
  { name: "wind_gust_ms", encoding: "float8", nullable: true },
  { name: "wind_direction_deg", encoding: "float8", nullable: true },
  { name: "cloud_cover_pct", encoding: "float8", nullable: true },
  { name: "precipitation_mm", encoding: "float8", nullable: true },
  { name: "precipitation_window_minutes", encoding: "int4", nullable: true },
  { name: "condition_code", encoding: "text", nullable: true },
  { name: "condition_system", encoding: "text", nullable: true },
  { name: "ingestion_run_id", encoding: "text", nullable: false },
  { name: "ingested_at", encoding: "timestamptz", nullable: false },
  { name: "raw_object_key", encoding: "text", nullable: false },
  { name: "payload", encoding: "jsonb", nullable: false },
  { name: "change_xid", encoding: "xid8", nullable: false },
  { name: "kind", encoding: "text", nullable: false },
];

/** The table's key, the order rows are archived in and checksummed over. */
export const BRONZE_KEY = ["site_id", "source", "observed_at", "kind"] as const;

/** A value in its archive encoding: strings (text, jsonb, xid8), numbers (float8, int4), bigint µs (timestamptz). */
export type ArchiveValue = string | number | bigint | null;

/** Rows of bronze as columns (one array per {@link BRONZE_COLUMNS} entry, same order and length). */
export interface BronzeBatch {
  rows: number;
  columns: ArchiveValue[][];
}
