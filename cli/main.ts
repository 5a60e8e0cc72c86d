/** The `weather` command line: drives the core use cases on the embedded default or any Postgres. */
import { Command, CommanderError, Option } from "commander";
import { SOURCES } from "#core/config/env.ts";
import { intervalOf, parseInterval } from "#core/domain/interval.ts";
import { PROVIDER_SOURCES } from "#core/domain/observation.ts";
import { loadSites } from "#core/domain/sites.ts";
import { httpPolicyFromConfig } from "#core/providers/http.ts";
import { createProvider } from "#core/providers/index.ts";
import { providerFor } from "#core/runtime.ts";
import { type IngestResult, ingestInterval } from "#core/use-cases/ingest.ts";
import { replayIntervals } from "#core/use-cases/replay.ts";
import { readStatus } from "#core/use-cases/status.ts";
import { type CommonFlags, cliLogger, configFrom, withRuntime, withSource } from "./context.ts";
import { EXIT, exitCodeFor, UsageError } from "./errors.ts";
import { createOutput } from "./output.ts";

const program = new Command()
  .name("weather")
  .description(
    "weather-dataops: land weather for your sites raw and in bronze, then transform to silver and gold.",
  )
  .showHelpAfterError()
  .exitOverride();

const dbOption = () =>
  new Option("--db <url>", "Postgres URL (default: DATABASE_URL, else the embedded PGlite in .weather/pg)");
const rawOption = () =>
  new Option("--raw <dir|s3://bucket>", "raw object store (default: RAW_STORE, else .weather/raw)");
const jsonOption = () => new Option("--json", "print one JSON document on stdout (progress stays on stderr)");
const verboseOption = () => new Option("-v, --verbose", "log debug detail to stderr");
const homeOption = () =>
  new Option(
    "--home <dir>",
    "where the embedded default keeps raw objects and PGlite (default: WEATHER_HOME, else .weather)",
  );

program
  .command("ingest")
  .description("fetch weather for every site for one interval; land it raw and upsert bronze")
  .option("--interval <hour>", "UTC hour to ingest, e.g. 2026-11-22T13 (default: the current hour)")
  .addOption(
    new Option("--source <name>", "weather source (default: WEATHER_SOURCE, else open-meteo)").choices(
      SOURCES,
    ),
  )
  .option("--sites <file>", "sites file (default: SITES_FILE, else config/sites.json)")
  .addOption(dbOption())
  .addOption(rawOption())
  .addOption(homeOption())
  .addOption(jsonOption())
  .addOption(verboseOption())
  .action(async (flags: CommonFlags & { interval?: string }) => {
    const out = createOutput(Boolean(flags.json));
    const config = configFrom(flags);
    const interval = flags.interval ? parseInterval(flags.interval) : intervalOf(new Date());
    const sites = await loadSites(config.SITES_FILE);
    const log = cliLogger(config, flags);
    const result = await withSource(config, interval, (cfg, source) =>
      withRuntime(cfg, async (rt) => {
        out.say(
          `Ingesting ${sites.length} sites from ${source} for ${interval} into ${rt.rawStore.location}`,
        );
        const bar = out.progress(sites.length, "sites");
        try {
          return await ingestInterval(
            {
              provider: await providerFor(cfg, source),
              rawStore: rt.rawStore,
              bronze: rt.bronze,
              policy: httpPolicyFromConfig(cfg),
              log,
            },
            {
              interval,
              sites,
              failureThreshold: cfg.SITE_FAILURE_THRESHOLD,
              onProgress: (p) => bar.update(p.sitesDone),
            },
          );
        } finally {
          bar.stop();
        }
      }),
    );
    out.result(result, () => describeIngest(result));
    process.exitCode = result.status === "succeeded" ? EXIT.ok : EXIT.failed;
  });

program
  .command("replay")
  .description("rebuild bronze for a range of intervals from raw objects only (no API calls; idempotent)")
  .requiredOption("--from <hour>", "first UTC hour, e.g. 2026-11-22T00")
  .option("--to <hour>", "last UTC hour (default: --from)")
  .addOption(new Option("--source <name>", "only this source").choices([...PROVIDER_SOURCES]))
  .addOption(dbOption())
  .addOption(rawOption())
  .addOption(homeOption())
  .addOption(jsonOption())
  .addOption(verboseOption())
  .action(
    async (
      flags: Omit<CommonFlags, "source"> & {
        from: string;
        to?: string;
        source?: "open-meteo" | "openweather";
      },
    ) => {
      const out = createOutput(Boolean(flags.json));
      const config = configFrom({ ...flags, source: undefined });
      const from = parseInterval(flags.from);
      const to = flags.to ? parseInterval(flags.to) : from;
      if (to < from) throw new UsageError(`--to (${to}) is before --from (${from})`);
      const log = cliLogger(config, flags);
      const results = await withRuntime(config, async (rt) => {
        const bar = out.progress(0, "intervals");
        try {
          return await replayIntervals(
            {
              rawStore: rt.rawStore,
              bronze: rt.bronze,
              log,
              providers: {
                "open-meteo": createProvider(config, "open-meteo"),
                openweather: createProvider(config, "openweather"),
              },
            },
            {
              from,
              to,
              sources: flags.source ? [flags.source] : undefined,
              failureThreshold: config.SITE_FAILURE_THRESHOLD,
              onProgress: (p) => bar.update(p.done),
            },
          );
        } finally {
          bar.stop();
        }
      });
      const doc = {
        from,
        to,
        runs: results.map(({ fetchLatenciesMs: _, sites: __, ...r }) => r),
        observationsLoaded: results.reduce((n, r) => n + r.observationsLoaded, 0),
        rowsChanged: results.reduce((n, r) => n + r.rowsChanged, 0),
      };
      out.result(doc, () =>
        results.length === 0
          ? `No raw objects found between ${from} and ${to} in ${config.RAW_STORE ?? `${config.WEATHER_HOME}/raw`}.`
          : `Replayed ${results.length} run(s): ${doc.observationsLoaded} observations, ${doc.rowsChanged} bronze rows changed.`,
      );
    },
  );

program
  .command("status")
  .description("rows per layer, the latest runs, and how fresh the data is")
  .addOption(dbOption())
  .addOption(homeOption())
  .addOption(jsonOption())
  .action(async (flags: CommonFlags) => {
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
          ? `last run ${run.runId}: ${run.status}, ${run.sitesOk} ok / ${run.sitesFailed} failed / ${run.sitesQuarantined} quarantined`
          : "no ingestion runs yet",
      );
      if (report.lastWorkflow)
        lines.push(`last workflow ${report.lastWorkflow.executionName}: ${report.lastWorkflow.status}`);
      lines.push(
        report.freshness.latestObservedAt
          ? `latest observation ${report.freshness.latestObservedAt} (${report.freshness.ageMinutes} min ago${report.freshness.fresh ? "" : ", STALE"})`
          : "no observations yet",
      );
      return lines.join("\n");
    });
  });

function describeIngest(r: IngestResult): string {
  const lines = [
    `${r.runId}: ${r.status.toUpperCase()} — ${r.sitesOk}/${r.sitesTotal} sites ok, ${r.sitesFailed} failed, ${r.sitesQuarantined} quarantined`,
    `${r.observationsLoaded} observations loaded (${r.rowsChanged} bronze rows changed); fetch p50 ${r.fetchLatencyP50Ms ?? "-"} ms, p95 ${r.fetchLatencyP95Ms ?? "-"} ms`,
  ];
  for (const s of r.sites.filter((s) => s.status !== "ok"))
    lines.push(`  ${s.siteId}: ${s.status} — ${s.reason}`);
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage mistakes are bad input.
      return e.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    process.stderr.write(`weather: ${(e as Error).message}\n`);
    return exitCodeFor(e);
  }
}

process.exitCode = await main(process.argv);
