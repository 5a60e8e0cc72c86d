/**
 * How an archived month of bronze lies in the raw store: its keys, its manifest, and the Parquet
 * codec (hyparquet-writer to write, hyparquet to read; pure JavaScript, so the Lambda bundles and
 * the embedded default need nothing native).
 *
 * ```
 * archive/bronze/month=2025-11/<token>/part-0001.parquet   rows in key order, PART_ROWS a part
 * archive/bronze/month=2025-11/<token>/manifest.json       rows, checksum, columns, parts (sha256 each)
 * ```
 * Each archive attempt writes under a token of its own (raw is append-only): an attempt that failed
 * before its database transaction leaves objects that no record points at, and the next attempt
 * writes a new copy beside them.
 */
import { createHash, randomBytes } from "node:crypto";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import * as z from "zod/mini";
import {
  type ArchiveEncoding,
  type ArchiveValue,
  ArchiveVerificationError,
  BRONZE_COLUMNS,
  BRONZE_KEY,
  type BronzeBatch,
  type Month,
  monthRange,
} from "../domain/bronze-archive.ts";
import type { RawStore } from "../ports.ts";

/** Rows per Parquet object: bounds the memory of archive and restore (one part decoded at a time). */
export const PART_ROWS = 50_000;

const ENCODINGS = ["text", "float8", "int4", "timestamptz", "jsonb", "xid8"] as const;

/** The Parquet schema element of each encoding (docs/decisions.md, "Bronze retention", says why). */
const PARQUET_TYPE = {
  text: { type: "BYTE_ARRAY", converted_type: "UTF8" },
  float8: { type: "DOUBLE" },
  int4: { type: "INT32" },
  timestamptz: {
    type: "INT64",
    converted_type: "TIMESTAMP_MICROS",
    logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" },
  },
  jsonb: { type: "BYTE_ARRAY", converted_type: "UTF8" },
  xid8: { type: "BYTE_ARRAY", converted_type: "UTF8" },
} as const satisfies Record<ArchiveEncoding, object>;

const CHECKSUM_OF =
  "md5 of the concatenated md5(row(<columns in table order>)::text) of every row, ordered by " +
  `${BRONZE_KEY.join(", ")}; TimeZone UTC, DateStyle ISO, extra_float_digits 1`;

const manifestSchema = z.object({
  version: z.literal(1),
  table: z.literal("bronze.weather_observations"),
  month: z.string(),
  range: z.object({ start: z.string(), end: z.string() }),
  rows: z.number().check(z.int(), z.positive()),
  checksum: z.string().check(z.regex(/^[0-9a-f]{32}$/)),
  checksumOf: z.string(),
  columns: z.array(
    z.object({ name: z.string(), encoding: z.enum(ENCODINGS), nullable: z.boolean(), parquet: z.string() }),
  ),
  parts: z.array(
    z.object({
      key: z.string(),
      rows: z.number().check(z.int(), z.positive()),
      bytes: z.number().check(z.int(), z.positive()),
      sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
    }),
  ),
  createdAt: z.string(),
});

/** The JSON document beside an archive's parts. */
export type ArchiveManifest = z.infer<typeof manifestSchema>;
export type ArchivePart = ArchiveManifest["parts"][number];

/** `archive/bronze/month=2025-11/` */
export const monthPrefix = (month: Month) => `archive/bronze/month=${month}/`;

/** A fresh token for one archive attempt: its instant, then random bits (`20261207T101500Z-a1b2c3`). */
export function archiveToken(now: Date): string {
  const instant = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${instant}-${randomBytes(3).toString("hex")}`;
}

export const partKey = (month: Month, token: string, n: number) =>
  `${monthPrefix(month)}${token}/part-${String(n).padStart(4, "0")}.parquet`;
export const manifestKey = (month: Month, token: string) => `${monthPrefix(month)}${token}/manifest.json`;

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** One Parquet object from a batch of bronze rows (column types as {@link PARQUET_TYPE}). */
export function encodeParquet(batch: BronzeBatch): Uint8Array {
  const buffer = parquetWriteBuffer({
    columnData: BRONZE_COLUMNS.map((c, i) => ({ name: c.name, data: batch.columns[i] ?? [] })),
    schema: [
      { name: "root", num_children: BRONZE_COLUMNS.length },
      ...BRONZE_COLUMNS.map((c) => ({
        name: c.name,
        ...PARQUET_TYPE[c.encoding],
        repetition_type: c.nullable ? ("OPTIONAL" as const) : ("REQUIRED" as const),
      })),
    ],
    kvMetadata: [
      {
        key: "weather-dataops.encodings",
        value: JSON.stringify(Object.fromEntries(BRONZE_COLUMNS.map((c) => [c.name, c.encoding]))),
      },
    ],
    createdBy: "weather-dataops (hyparquet-writer)",
  });
  return new Uint8Array(buffer);
}

/** The rows of one Parquet object, as the batch {@link encodeParquet} was given. */
export async function decodeParquet(bytes: Uint8Array): Promise<BronzeBatch> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const metadata = parquetMetadata(file);
  const names = metadata.schema.slice(1).map((e) => e.name);
  const expected = BRONZE_COLUMNS.map((c) => c.name);
  if (names.join(",") !== expected.join(","))
    throw new Error(`its columns are (${names.join(", ")}), bronze's are (${expected.join(", ")})`);
  const rows = await parquetReadObjects({
    file,
    metadata,
    // Keep timestamps as the INT64 microseconds they are: a Date would drop the microseconds.
    parsers: { timestampFromMicroseconds: (micros: bigint) => micros },
  });
  return {
    rows: rows.length,
    columns: BRONZE_COLUMNS.map((c) => rows.map((r) => (r[c.name] ?? null) as ArchiveValue)),
  };
}

/** The manifest of a month just written. */
export function buildManifest(args: {
  month: Month;
  rows: number;
  checksum: string;
  parts: ArchivePart[];
  now: Date;
}): ArchiveManifest {
  const { start, end } = monthRange(args.month);
  return {
    version: 1,
    table: "bronze.weather_observations",
    month: args.month,
    range: { start: start.toISOString(), end: end.toISOString() },
    rows: args.rows,
    checksum: args.checksum,
    checksumOf: CHECKSUM_OF,
    columns: BRONZE_COLUMNS.map((c) => ({
      name: c.name,
      encoding: c.encoding,
      nullable: c.nullable,
      parquet: describeParquetType(c.encoding),
    })),
    parts: args.parts,
    createdAt: args.now.toISOString(),
  };
}

function describeParquetType(encoding: ArchiveEncoding): string {
  const t = PARQUET_TYPE[encoding];
  if ("logical_type" in t) return `${t.type} TIMESTAMP(MICROS, UTC)`;
  return "converted_type" in t ? `${t.type} ${t.converted_type}` : t.type;
}

/**
 * Reads and checks a manifest: valid JSON of the schema, for `month`, with bronze's columns, and
 * parts that add up to its rows. Anything else is an {@link ArchiveVerificationError}.
 */
export async function readManifest(rawStore: RawStore, key: string, month: Month): Promise<ArchiveManifest> {
  const fail = (why: string) =>
    new ArchiveVerificationError(
      `The archive manifest ${key} in ${rawStore.location} ${why}. Nothing was changed.`,
    );
  let text: string;
  try {
    text = await rawStore.get(key, { maxBytes: 16 * 1024 * 1024 });
  } catch (e) {
    throw fail(`cannot be read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(`is not JSON (${(e as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success)
    throw fail(
      `is not an archive manifest (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")})`,
    );
  const manifest = parsed.data;
  if (manifest.month !== month) throw fail(`describes ${manifest.month}, not ${month}`);
  const columns = manifest.columns.map((c) => `${c.name}:${c.encoding}`).join(",");
  if (columns !== BRONZE_COLUMNS.map((c) => `${c.name}:${c.encoding}`).join(","))
    throw fail("lists other columns than bronze has");
  const partRows = manifest.parts.reduce((n, p) => n + p.rows, 0);
  if (partRows !== manifest.rows)
    throw fail(`has parts of ${partRows} rows in all, but says ${manifest.rows}`);
  return manifest;
}

/**
 * The manifest's parts, one decoded batch at a time, each checked first against the manifest (size,
 * sha256) and then its row count: a changed byte fails before any row is decoded.
 */
export async function* readParts(
  rawStore: RawStore,
  manifest: ArchiveManifest,
  onPart?: (done: number, rows: number) => void,
): AsyncGenerator<BronzeBatch> {
  let done = 0;
  for (const part of manifest.parts) {
    const fail = (why: string) =>
      new ArchiveVerificationError(
        `Archive object ${part.key} in ${rawStore.location} ${why}. Nothing was changed in the database.`,
      );
    let bytes: Uint8Array;
    try {
      bytes = await rawStore.getBytes(part.key, { maxBytes: part.bytes });
    } catch (e) {
      throw fail(`cannot be read as the manifest describes it (${(e as Error).message})`);
    }
    if (bytes.byteLength !== part.bytes)
      throw fail(`is ${bytes.byteLength} bytes, the manifest says ${part.bytes}`);
    const digest = sha256(bytes);
    if (digest !== part.sha256)
      throw fail(`has sha256 ${digest}, the manifest says ${part.sha256}: it is corrupt`);
    let batch: BronzeBatch;
    try {
      batch = await decodeParquet(bytes);
    } catch (e) {
      throw fail(`is not a readable bronze Parquet object (${(e as Error).message})`);
    }
    if (batch.rows !== part.rows) throw fail(`holds ${batch.rows} rows, the manifest says ${part.rows}`);
    done += batch.rows;
    onPart?.(done, manifest.rows);
    yield batch;
  }
}
