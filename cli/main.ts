/** The `weather` command line: drives the core use cases on the embedded default or any Postgres. */
import { Command, CommanderError, Option } from "commander";
import { rawStoreLocation, SOURCES } from "#core/config/env.ts";
import { migrate } from "#core/db/migrate.ts";
import {
  checkIntervalBounds,
  type Interval,
  IntervalError,
  intervalOf,
  intervalRange,
  parseInterval,
} from "#core/domain/interval.ts";
import { PROVIDER_SOURCES } from "#core/domain/observation.ts";
import { loadSites } from "#core/domain/sites.ts";
import { getLineage } from "#core/sql/lineage.ts";
import { backfill, CATCH_UP, type CatchUp } from "#core/use-cases/backfill.ts";
import { missingByHour, readCoverage } from "#core/use-cases/coverage.ts";
import { intervalPrefix } from "#core/use-cases/ingest.ts";
import { readStatus } from "#core/use-cases/status.ts";
import { rebuildAll } from "#core/use-cases/transform.ts";
import {
  compactIngest,
  describeBackfill,
  describeIngest,
  describeWorkflow,
  ingestOnce,
  replayRange,
  workflowOnce,
} from "./actions.ts";
import { type CommonFlags, cliLogger, configFrom, withRuntime, withSource } from "./context.ts";
import { EXIT, exitCodeFor, UsageError } from "./errors.ts";
import { createOutput, reportError } from "./output.ts";

const program = new Command()
  .name("weather")
  .description(
    "weather-dataops: land weather for your sites raw and in bronze, then transform it to silver and gold.\n" +
      "Runs on an embedded PGlite under .weather/ by default; point --db (or DATABASE_URL) at any Postgres.",
  )
  .showHelpAfterError()
  .exitOverride();

type Flags = CommonFlags & Record<string, string | boolean | undefined>;

/** Options every data command takes. */
function common(cmd: Command, opts: { source?: boolean; sites?: boolean } = {}): Command {
  if (opts.source)
    cmd.addOption(
      new Option("--source <name>", "weather source (default: WEATHER_SOURCE, else open-meteo)").choices(
        SOURCES,
      ),
    );
  if (opts.sites) cmd.option("--sites <file>", "sites file (default: SITES_FILE, else config/sites.json)");
  return cmd
    .option("--db <url>", "Postgres URL (default: DATABASE_URL, else the embedded PGlite in .weather/pg)")
    .option("--raw <dir|s3://bucket>", "raw object store (default: RAW_STORE, else .weather/raw)")
    .option(
      "--home <dir>",
      "where the embedded default keeps its state (default: WEATHER_HOME, else .weather)",
    )
    .option("--json", "print one JSON document on stdout (people's text and progress stay on stderr)")
    .option("-v, --verbose", "log debug detail to stderr");
}

/** An hour flag, parsed and checked against the archive's first hour and the next hour. */
function hourFlag(flag: string, text: string): Interval {
  let interval: Interval;
  try {
    interval = parseInterval(text);
  } catch (e) {
    throw e instanceof IntervalError ? new IntervalError(`--${flag}: ${e.message}`) : e;
  }
  return checkIntervalBounds(interval, new Date(), `--${flag}`);
}

const intervalOpt = (flags: Flags): Interval =>
  typeof flags.interval === "string" ? hourFlag("interval", flags.interval) : intervalOf(new Date());

function range(flags: Flags): { from: Interval; to: Interval } {
  const from = hourFlag("from", String(flags.from));
  const to = typeof flags.to === "string" ? hourFlag("to", flags.to) : from;
  if (to < from) throw new UsageError(`--to (${to}) is before --from (${from})`);
  return { from, to };
}

common(
  program
    .command("ingest")
    .description("fetch weather for every site for one interval; land it raw and upsert bronze")
    .option("--interval <hour>", "UTC hour, e.g. 2026-11-22T13 (default: the current hour)"),
  { source: true, sites: true },
).action(async (flags: Flags) => {
  const out = createOutput(Boolean(flags.json));
  const config = configFrom(flags);
  const interval = intervalOpt(flags);
  const sites = await loadSites(config.SITES_FILE);
  const log = cliLogger(config, flags);
  const result = await withSource(config, interval, (session) =>
    withRuntime(session.config, (rt) => ingestOnce(rt, session, { interval, sites, log, out }), {
      writesRaw: true,
    }),
  );
  out.result(compactIngest(result), () => describeIngest(result));
  process.exitCode = result.status === "succeeded" ? EXIT.ok : EXIT.failed;
});

common(
  program
    .command("run")
    .description(
      "the whole pipeline for one interval: ingest, then the workflow (silver → silver checks → gold → gold checks)",
    )
    .option("--interval <hour>", "UTC hour, e.g. 2026-11-22T13 (default: the current hour)")
    .option("--force", "rerun the workflow even if this interval's execution already succeeded"),
  { source: true, sites: true },
).action(async (flags: Flags) => {
  const out = createOutput(Boolean(flags.json));
  const config = configFrom(flags);
  const interval = intervalOpt(flags);
  const sites = await loadSites(config.SITES_FILE);
  const log = cliLogger(config, flags);
  const { ingest, workflow, status } = await withSource(config, interval, (session) =>
    withRuntime(
      session.config,
      async (rt) => {
        const ingest = await ingestOnce(rt, session, { interval, sites, log, out });
        out.say(describeIngest(ingest));
        // New or changed bronze rows must reach gold even if this interval's workflow ran before.
        const workflow = await workflowOnce(rt, {
          interval,
          log,
          out,
          force: Boolean(flags.force) || ingest.rowsChanged > 0,
        });
        return { ingest, workflow, status: await readStatus(rt.db.pool) };
      },
      { writesRaw: true },
    ),
  );
  out.result({ interval, ingest: compactIngest(ingest), workflow, status }, () => describeWorkflow(workflow));
  process.exitCode = ingest.status === "failed" || workflow.status === "failed" ? EXIT.failed : EXIT.ok;
});

common(
  program
    .command("transform")
    .description(
      "run the workflow (silver → silver checks → gold → gold checks) for one interval, or rebuild everything",
    )
    .option("--interval <hour>", "UTC hour, e.g. 2026-11-22T13 (default: the current hour)")
    .option("--full", "rebuild silver and gold from all of bronze instead of one interval"),
).action(async (flags: Flags) => {
  const out = createOutput(Boolean(flags.json));
  const config = configFrom(flags);
  const interval = intervalOpt(flags);
  const log = cliLogger(config, flags);
  if (flags.full) {
    const rebuilt = await withRuntime(config, (rt) => rebuildAll({ pool: rt.db.pool, log }, { interval }));
    out.result(
      rebuilt,
      () => `Rebuilt silver (${rebuilt.silver.durationMs} ms) and gold (${rebuilt.gold.durationMs} ms).`,
    );
    return;
  }
  const workflow = await withRuntime(config, (rt) => workflowOnce(rt, { interval, log, out, force: true }));
  out.result(workflow, () => describeWorkflow(workflow));
  process.exitCode = workflow.status === "failed" ? EXIT.failed : EXIT.ok;
});

common(
  program
    .command("backfill")
    .description(
      "refill every site-hour missing from bronze in a range, oldest first: replay raw objects where they " +
        "exist, fetch the missing sites where the source can serve that hour, then run the workflow — the " +
        "current hour first whenever it falls due. Exits 1 if anything is still missing, and says what.",
    )
    .requiredOption("--from <hour>", "first UTC hour, e.g. 2026-11-20T00")
    .option("--to <hour>", "last UTC hour (default: --from)")
    .addOption(
      new Option(
        "--catch-up <policy>",
        "hours with gaps: fetch all, only the latest, or skip them (replay only)",
      )
        .choices(CATCH_UP)
        .default("all"),
    ),
  { source: true, sites: true },
).action(async (flags: Flags) => {
  const out = createOutput(Boolean(flags.json));
  const config = configFrom(flags);
  const { from, to } = range(flags);
  const sites = await loadSites(config.SITES_FILE);
  const byId = new Map(sites.map((s) => [s.id, s]));
  const log = cliLogger(config, flags);
  const report = await withSource(config, from, (session) =>
    withRuntime(
      session.config,
      async (rt) => {
        const bar = out.progress(intervalRange(from, to).length, "hours");
        try {
          return await backfill(
            {
              log,
              supportsHistory: session.supportsHistory,
              missing: async (f, t) =>
                missingByHour(
                  await readCoverage(rt.db.pool, {
                    from: f,
                    to: t,
                    siteIds: sites.map((s) => s.id),
                    source: session.source,
                  }),
                ),
              hasRaw: async (i) => (await rt.rawStore.list(intervalPrefix(session.source, i))).length > 0,
              replay: (i) => replayRange(rt, { from: i, to: i, sources: [session.source], log }),
              ingest: (i, ids) =>
                ingestOnce(rt, session, {
                  interval: i,
                  sites: ids.flatMap((id) => byId.get(id) ?? []),
                  log,
                  out,
                }),
              runWorkflow: (i) => workflowOnce(rt, { interval: i, log, out, force: true }),
            },
            { from, to, catchUp: flags.catchUp as CatchUp, onProgress: (d) => bar.update(d) },
          );
        } finally {
          bar.stop();
        }
      },
      { writesRaw: true },
    ),
  );
  out.result(report, () => describeBackfill(report));
  process.exitCode = report.failed ? EXIT.failed : EXIT.ok;
});

common(
  program
    .command("replay")
    .description("rebuild bronze for a range of intervals from raw objects only (no API calls; idempotent)")
    .requiredOption("--from <hour>", "first UTC hour, e.g. 2026-11-22T00")
    .option("--to <hour>", "last UTC hour (default: --from)")
    .addOption(new Option("--source <name>", "only this source").choices([...PROVIDER_SOURCES])),
).action(async (flags: Flags) => {
  const out = createOutput(Boolean(flags.json));
  const source = flags.source as (typeof PROVIDER_SOURCES)[number] | undefined;
  const config = configFrom({ ...flags, source: undefined });
  const { from, to } = range(flags);
  const log = cliLogger(config, flags);
  const results = await withRuntime(config, (rt) =>
    replayRange(rt, { from, to, sources: source ? [source] : undefined, log }),
  );
  const doc = {
    from,
    to,
    runs: results.map(({ sites: _, ...r }) => compactIngest({ ...r, sites: [] })),
    observationsLoaded: results.reduce((n, r) => n + r.observationsLoaded, 0),
    rowsChanged: results.reduce((n, r) => n + r.rowsChanged, 0),
  };
  out.result(doc, () =>
    results.length === 0
      ? `No raw objects found between ${from} and ${to} in ${rawStoreLocation(config)}.`
      : `Replayed ${results.length} run(s): ${doc.observationsLoaded} observations, ${doc.rowsChanged} bronze rows changed.`,
  );
  process.exitCode = results.some((r) => r.status === "failed") ? EXIT.failed : EXIT.ok;
});

common(
  program
    .command("coverage")
    .description("expected versus present hours per site, and the hours a backfill would fill")
    .requiredOption("--from <hour>", "first UTC hour")
    .option("--to <hour>", "last UTC hour (default: the current hour)"),
  { sites: true },
).action(async (flags: Flags) => {
  const out = createOutput(Boolean(flags.json));
  const config = configFrom(flags);
  const from = hourFlag("from", String(flags.from));
  const to = typeof flags.to === "string" ? hourFlag("to", flags.to) : intervalOf(new Date());
  if (to < from) throw new UsageError(`--to (${to}) is before --from (${from})`);
  const sites = await loadSites(config.SITES_FILE);
  const report = await withRuntime(config, (rt) =>
    readCoverage(rt.db.pool, { from, to, siteIds: sites.map((s) => s.id) }),
  );
  out.result(report, () =>
    [
      ...report.sites.map((s) => `${s.siteId.padEnd(14)} ${s.present}/${s.expected} hours`),
      report.complete ? "complete" : `missing hours: ${report.missingIntervals.join(", ")}`,
    ].join("\n"),
  );
});

common(
  program
    .command("lineage")
    .description(
      "what one interval read and wrote: raw objects → ingestion runs → bronze → silver/gold → checks",
    )
    .requiredOption("--interval <hour>", "UTC hour, e.g. 2026-11-22T13"),
).action(async (flags: Flags) => {
  const out = createOutput(Boolean(flags.json));
  const config = configFrom(flags);
  const interval = hourFlag("interval", String(flags.interval));
  const lineage = await withRuntime(config, (rt) => getLineage(rt.db.pool, interval));
  out.result(lineage, () => {
    const lines = [`lineage of ${interval}`];
    for (const r of lineage.ingestionRuns) {
      lines.push(
        `  ingestion ${r.runId} (${r.status}): ${r.bronzeRows} bronze rows, ${r.quarantined} quarantined`,
      );
      for (const k of r.rawObjectKeys) lines.push(`    raw ${k}`);
    }
    for (const t of lineage.transformRuns)
      lines.push(
        `  ${t.layer} run ${t.runId} (${t.mode}, ${t.status}): ${t.affectedHours.length} hours recomputed, ` +
          `window ${t.window.start} → ${t.window.end}`,
      );
    for (const c of lineage.qualityCheckRuns)
      lines.push(
        `  checks run ${c.runId} (${c.layers.join(", ")}): ${c.status}${c.failed.length ? ` — ${c.failed.join(", ")}` : ""}`,
      );
    for (const w of lineage.workflowExecutions)
      lines.push(`  workflow ${w.executionName}: ${w.status} (attempt ${w.attempt})`);
    return lines.join("\n");
  });
});

common(
  program.command("migrate").description("apply pending SQL migrations (every command also does this first)"),
).action(async (flags: Flags) => {
  const out = createOutput(Boolean(flags.json));
  const config = configFrom(flags);
  const applied = await withRuntime(config, (rt) => migrate(rt.db.pool), { migrate: false });
  out.result({ applied }, () =>
    applied.length ? `Applied: ${applied.join(", ")}` : "Nothing to apply; the database is up to date.",
  );
});

common(
  program
    .command("status")
    .description("rows per layer, the latest runs and workflow, and how fresh the data is"),
).action(async (flags: Flags) => {
  const out = createOutput(Boolean(flags.json));
  const config = configFrom(flags);
  const report = await withRuntime(config, (rt) => readStatus(rt.db.pool));
  out.result(report, () => {
    const lines = Object.entries(report.layers).map(
      ([layer, tables]) =>
        `${layer.padEnd(7)} ${
          Object.entries(tables)
            .map(([t, n]) => `${t}=${n}`)
            .join("  ") || "(empty)"
        }`,
    );
    const run = report.lastIngestionRuns[0];
    lines.push(
      run
        ? `last ingestion ${run.runId}: ${run.status}, ${run.sitesOk} ok / ${run.sitesFailed} failed / ${run.sitesQuarantined} quarantined`
        : "no ingestion runs yet",
    );
    if (report.lastWorkflow)
      lines.push(`last workflow ${report.lastWorkflow.executionName}: ${report.lastWorkflow.status}`);
    for (const run of report.lastQualityChecks) {
      lines.push(
        `last ${run.layers.join("+")} checks ${run.interval}: ${run.status}` +
          ` (${run.checksFailed} failed, ${run.checksWarned} warned)`,
      );
      for (const p of run.problems)
        lines.push(`  ${p.severity === "error" ? "FAILED" : "warned"} ${p.name}: ${p.failingRows} rows`);
    }
    lines.push(
      report.freshness.latestObservedAt
        ? `latest observation ${report.freshness.latestObservedAt} (${report.freshness.ageMinutes} min ago${report.freshness.fresh ? "" : ", STALE"})`
        : "no observations yet",
    );
    return lines.join("\n");
  });
});

export async function main(argv: string[]): Promise<number> {
  // Known before commander parses, so even a usage error or a crash keeps the --json contract.
  const json = argv.includes("--json");
  const crash = (e: unknown) => {
    // State is unknown after an uncaught error: report once, then exit (locks are released on exit).
    reportError(e, EXIT.failed, json);
    process.exit(EXIT.failed);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT.ok; // --help, --version
      // commander has already printed its message to stderr.
      reportError(new UsageError(e.message.replace(/^error: /, "")), EXIT.badInput, json, {
        alreadyOnStderr: true,
      });
      return EXIT.badInput;
    }
    const code = exitCodeFor(e);
    reportError(e, code, json);
    return code;
  }
}

process.exitCode = await main(process.argv);
// Everything main opened is closed by now; a handle still open (a hung file system call, a leaked
// socket) must not keep the command from exiting.
setTimeout(() => process.exit(), 5_000).unref();
