/** `weather lineage`: what one hour read and wrote, from raw objects to checks. */
import type { Command } from "commander";
import { getLineage } from "#core/sql/lineage.ts";
import { action, common, hourFlag } from "../command.ts";
import { withRuntime } from "../context.ts";
import { EXIT } from "../errors.ts";

export function register(program: Command): void {
  common(
    program
      .command("lineage")
      .description(
        "what one interval read and wrote: raw objects → ingestion runs → bronze → silver/gold → checks",
      )
      .requiredOption("--interval <hour>", "UTC hour, e.g. 2026-11-22T13"),
  ).action(
    action(async ({ flags, config, out }) => {
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
      return EXIT.ok;
    }),
  );
}
