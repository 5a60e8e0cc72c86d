/** `weather status`: rows per layer, the latest runs, freshness. */

import type { Command } from "commander";
import { PgStatusReader } from "#core/adapters/pg-status-reader.ts";
import { readStatus, type StatusReport } from "#core/use-cases/status.ts";
import { action, common } from "../command.ts";
import { withRuntime } from "../context.ts";
import { EXIT } from "../errors.ts";

export function register(program: Command): void {
  common(
    program
      .command("status")
      .description("rows per layer, the latest runs and workflow, and how fresh the data is"),
  ).action(
    action(async ({ config, out }) => {
      const report = await withRuntime(config, (rt) => readStatus(new PgStatusReader(rt.db.pool)));
      out.result(report, () => describeStatus(report));
      return EXIT.ok;
    }),
  );
}

function describeStatus(report: StatusReport): string {
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
}
