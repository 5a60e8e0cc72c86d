/**
 * Bronze retention: move a whole UTC month of bronze.weather_observations into Parquet in the raw
 * store, and back, exactly (docs/decisions.md, "Bronze retention"). Silver and gold keep their rows
 * of an archived month.
 *
 * Archive, one month:
 * 1. A month not yet over is refused; a month already archived is a no-op; a month without rows says so.
 * 2. Read the month's rows in key order from one snapshot, with their count and full-row checksum
 *    (computed in SQL); write them as Parquet parts under a fresh token, then the manifest beside them.
 * 3. Read manifest and parts back (sha256 of each part, then decode) into a scratch table and compare
 *    count and checksum; in the same transaction delete the month's rows (comparing what was deleted
 *    too) and record the month in ops.bronze_archived_months. Only then is the month archived.
 *
 * Restore, one month:
 * 1. The month's record names its manifest; read and check it (it must agree with the record).
 * 2. In one transaction: insert the parts' rows into bronze — every column as archived, the change
 *    marker `change_xid` included, so the transforms see nothing new (silver still holds the month) —
 *    compare the month's count and checksum with the manifest's, remove the record.
 */
import {
  type Month,
  MonthError,
  monthRange,
  RestoreRefusedError,
  retentionCutoff,
} from "../domain/bronze-archive.ts";
import type { Log } from "../observability/logger.ts";
import type { BronzeArchiveStore, RawStore } from "../ports.ts";
import {
  type ArchivePart,
  archiveToken,
  buildManifest,
  encodeParquet,
  manifestKey,
  PART_ROWS,
  partKey,
  readManifest,
  readParts,
  sha256,
} from "./archive-format.ts";

export interface ArchiveDeps {
  rawStore: RawStore;
  store: BronzeArchiveStore;
  log?: Log;
  /** Lines for people (the CLI sends them to stderr). */
  progress?: (text: string) => void;
  now?: () => Date;
  /** Rows per Parquet object (default {@link PART_ROWS}). */
  partRows?: number;
}

export type ArchiveOutcome =
  | {
      month: Month;
      status: "archived";
      rows: number;
      checksum: string;
      manifestKey: string;
      parts: number;
      bytes: number;
    }
  | { month: Month; status: "already-archived"; rows: number; manifestKey: string; archivedAt: string }
  | { month: Month; status: "empty"; rows: 0 };

/** Archives one month (see the file header). */
export async function archiveMonth(deps: ArchiveDeps, month: Month): Promise<ArchiveOutcome> {
  const now = (deps.now ?? (() => new Date()))();
  const { end } = monthRange(month);
  if (end > now)
    throw new MonthError(
      `${month} is not over until ${end.toISOString()}: only complete months are archived (rows still land in this one).`,
    );
  const known = (await deps.store.archivedMonths()).find((a) => a.month === month);
  if (known)
    return {
      month,
      status: "already-archived",
      rows: known.rows,
      manifestKey: known.manifestKey,
      archivedAt: known.archivedAt.toISOString(),
    };

  const token = archiveToken(now);
  const parts: ArchivePart[] = [];
  const fingerprint = await deps.store.exportMonth(month, deps.partRows ?? PART_ROWS, async (batch) => {
    const bytes = encodeParquet(batch);
    const key = partKey(month, token, parts.length + 1);
    await deps.rawStore.putBytes(key, bytes);
    parts.push({ key, rows: batch.rows, bytes: bytes.byteLength, sha256: sha256(bytes) });
    deps.progress?.(
      `${month}: wrote ${parts.reduce((n, p) => n + p.rows, 0)} rows in ${parts.length} Parquet part(s)`,
    );
  });
  if (fingerprint.rows === 0) return { month, status: "empty", rows: 0 };

  const key = manifestKey(month, token);
  const manifest = buildManifest({ month, ...fingerprint, parts, now });
  await deps.rawStore.put(key, `${JSON.stringify(manifest, null, 2)}\n`);

  // Read everything back from the store, as a restore would, before a single row is deleted.
  const written = await readManifest(deps.rawStore, key, month);
  const recorded = await deps.store.completeArchive(
    {
      month,
      rows: written.rows,
      checksum: written.checksum,
      rawStore: deps.rawStore.location,
      manifestKey: key,
    },
    readParts(deps.rawStore, written, (done, total) =>
      deps.progress?.(`${month}: verified ${done} of ${total} rows`),
    ),
  );
  if (!recorded) {
    const winner = (await deps.store.archivedMonths()).find((a) => a.month === month);
    deps.log?.warn("month archived by another process meanwhile; this copy is unused", {
      month,
      manifestKey: key,
    });
    return {
      month,
      status: "already-archived",
      rows: winner?.rows ?? fingerprint.rows,
      manifestKey: winner?.manifestKey ?? key,
      archivedAt: (winner?.archivedAt ?? now).toISOString(),
    };
  }
  const bytes = parts.reduce((n, p) => n + p.bytes, 0);
  deps.log?.info("bronze month archived", { month, rows: fingerprint.rows, manifestKey: key, bytes });
  return { month, status: "archived", ...fingerprint, manifestKey: key, parts: parts.length, bytes };
}

/**
 * Archives every month with bronze rows that ended before the retention cutoff (the month
 * `retentionMonths` before the current one), oldest first.
 */
export async function archiveExpired(
  deps: ArchiveDeps,
  args: { retentionMonths: number },
): Promise<{ keepFrom: Month; months: ArchiveOutcome[] }> {
  const now = (deps.now ?? (() => new Date()))();
  const keepFrom = retentionCutoff(now, args.retentionMonths);
  const months: ArchiveOutcome[] = [];
  for (const month of await deps.store.monthsWithRows(keepFrom)) months.push(await archiveMonth(deps, month));
  return { keepFrom, months };
}

export interface RestoreOutcome {
  month: Month;
  status: "restored";
  rows: number;
  checksum: string;
  manifestKey: string;
}

/** Restores one archived month into bronze (see the file header). */
export async function restoreMonth(deps: ArchiveDeps, month: Month): Promise<RestoreOutcome> {
  const archived = await deps.store.archivedMonths();
  const record = archived.find((a) => a.month === month);
  if (!record)
    throw new RestoreRefusedError(
      `${month} is not archived, so there is nothing to restore. ` +
        (archived.length
          ? `Archived months: ${archived.map((a) => a.month).join(", ")}.`
          : "No month is archived."),
    );
  if (record.rawStore !== deps.rawStore.location)
    deps.progress?.(
      `${month} was archived to ${record.rawStore}; reading it from ${deps.rawStore.location} (--raw / RAW_STORE).`,
    );
  const manifest = await readManifest(deps.rawStore, record.manifestKey, month).catch((e: Error) => {
    throw record.rawStore === deps.rawStore.location
      ? e
      : new RestoreRefusedError(
          `${e.message} It was archived to ${record.rawStore}: pass --raw ${record.rawStore}.`,
        );
  });
  const restored = await deps.store.restoreMonth(
    month,
    { rows: manifest.rows, checksum: manifest.checksum },
    readParts(deps.rawStore, manifest, (done, total) =>
      deps.progress?.(`${month}: restored ${done} of ${total} rows`),
    ),
  );
  deps.log?.info("bronze month restored", { month, rows: restored.rows, manifestKey: record.manifestKey });
  return { month, status: "restored", ...restored, manifestKey: record.manifestKey };
}
