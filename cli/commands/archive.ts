/** `weather archive` and `weather restore`: bronze retention, a UTC month at a time (core/use-cases/archive.ts). */
import type { Command } from "commander";
import type pg from "pg";
import { pgBronzeArchive } from "#core/adapters/pg-bronze-archive.ts";
import { rawStoreLocation } from "#core/config/env.ts";
import { monthOf, parseMonth } from "#core/domain/bronze-archive.ts";
import { type Interval, intervalStart } from "#core/domain/interval.ts";
import type { Runtime } from "#core/runtime.ts";
import {
  type ArchiveDeps,
  type ArchiveOutcome,
  archiveExpired,
  archiveMonth,
  restoreMonth,
} from "#core/use-cases/archive.ts";
import { action, common } from "../command.ts";
import { withRuntime } from "../context.ts";
import { EXIT, UsageError } from "../errors.ts";
import type { Output } from "../output.ts";

const deps = (rt: Runtime, out: Output, log: ArchiveDeps["log"]): ArchiveDeps => ({
  rawStore: rt.rawStore,
  store: pgBronzeArchive(rt.db.pool),
  log,
  progress: (text) => out.say(text),
});

function describe(o: ArchiveOutcome): string {
  switch (o.status) {
    case "archived":
      return `${o.month}: archived ${o.rows} rows (${o.parts} Parquet part(s), ${o.bytes} bytes, checksum ${o.checksum}) to ${o.manifestKey}; deleted from bronze.`;
    case "already-archived":
      return `${o.month}: already archived (${o.rows} rows, ${o.manifestKey}, ${o.archivedAt}); nothing to do.`;
    case "empty":
      return `${o.month}: bronze has no rows of this month; nothing archived.`;
  }
}

export function register(program: Command): void {
  common(
    program
      .command("archive")
      .description(
        "move whole UTC months of bronze to Parquet in the raw store (archive/bronze/month=M/…), verified " +
          "by row count and full-row checksum before the rows are deleted; silver and gold keep theirs. " +
          "Without --month: every month older than BRONZE_RETENTION_MONTHS (default 24). An archived " +
          "month is a no-op; `weather restore --month M` brings one back",
      )
      .option("--month <YYYY-MM>", "archive this one UTC month (it must be over), e.g. 2025-11"),
  ).action(
    action(async ({ flags, config, log, out }) => {
      const month = typeof flags.month === "string" ? parseMonth(flags.month, "--month") : undefined;
      const doc = await withRuntime(
        config,
        async (rt) => {
          if (month) return { months: [await archiveMonth(deps(rt, out, log), month)] };
          const retentionMonths = config.BRONZE_RETENTION_MONTHS;
          return { retentionMonths, ...(await archiveExpired(deps(rt, out, log), { retentionMonths })) };
        },
        { writesRaw: true },
      );
      out.result({ rawStore: rawStoreLocation(config), ...doc }, () =>
        doc.months.length === 0
          ? `No bronze rows before ${"keepFrom" in doc ? doc.keepFrom : "the cutoff"} (BRONZE_RETENTION_MONTHS=${config.BRONZE_RETENTION_MONTHS}); nothing to archive.`
          : doc.months.map(describe).join("\n"),
      );
      return EXIT.ok;
    }),
  );

  common(
    program
      .command("restore")
      .description(
        "put an archived UTC month back into bronze exactly (every column, change markers included), in one " +
          "transaction that checks the row count and full-row checksum against the archive's manifest and " +
          "then forgets the archive record; a corrupt or missing object changes nothing (exit 1)",
      )
      .requiredOption("--month <YYYY-MM>", "the archived UTC month, e.g. 2025-11"),
  ).action(
    action(async ({ flags, config, log, out }) => {
      const month = parseMonth(String(flags.month), "--month");
      const restored = await withRuntime(config, (rt) => restoreMonth(deps(rt, out, log), month));
      out.result(
        restored,
        () =>
          `${month}: restored ${restored.rows} rows into bronze (checksum ${restored.checksum}, from ${restored.manifestKey}).`,
      );
      return EXIT.ok;
    }),
  );
}

/**
 * Refuses a command that would land bronze rows in archived months (replay, backfill): those rows
 * would sit beside the archive, and `weather restore` refuses a month that has rows again.
 */
export async function refuseArchivedHours(pool: pg.Pool, command: string, from: Interval, to: Interval) {
  const [first, last] = [monthOf(intervalStart(from)), monthOf(intervalStart(to))];
  const months = (await pgBronzeArchive(pool).archivedMonths())
    .map((a) => a.month)
    .filter((m) => m >= first && m <= last);
  if (months.length === 0) return;
  throw new UsageError(
    `${command} ${from} … ${to} covers the archived month(s) ${months.join(", ")}: their bronze rows are in ` +
      "the archive, and rows landed beside it would make `weather restore` refuse the month. Restore them " +
      `first (${months.map((m) => `weather restore --month ${m}`).join("; ")}), or leave them out of the range. ` +
      "Nothing was fetched or changed.",
  );
}
