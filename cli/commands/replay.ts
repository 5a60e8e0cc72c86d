/** `weather replay`: rebuild bronze for a range of hours from raw objects only. */
import { type Command, Option } from "commander";
import { rawStoreLocation } from "#core/config/env.ts";
import { PROVIDER_SOURCES, type ProviderSource } from "#core/domain/observation.ts";
import { compactIngest, replayRange } from "../actions.ts";
import { action, common, rangeFlags } from "../command.ts";
import { withRuntime } from "../context.ts";
import { EXIT } from "../errors.ts";
import { refuseArchivedHours } from "./archive.ts";

export function register(program: Command): void {
  common(
    program
      .command("replay")
      .description("rebuild bronze for a range of intervals from raw objects only (no API calls; idempotent)")
      .requiredOption("--from <hour>", "first UTC hour, e.g. 2026-11-22T00")
      .option("--to <hour>", "last UTC hour (default: --from)")
      .addOption(new Option("--source <name>", "only this source").choices([...PROVIDER_SOURCES])),
  ).action(
    action(
      async ({ flags, config, log, out }) => {
        const source = flags.source as ProviderSource | undefined;
        const { from, to } = rangeFlags(flags);
        const results = await withRuntime(config, async (rt) => {
          await refuseArchivedHours(rt.db.pool, "replay", from, to);
          return replayRange(rt, { from, to, sources: source ? [source] : undefined, log });
        });
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
        return results.some((r) => r.status === "failed") ? EXIT.failed : EXIT.ok;
      },
      // --source filters the raw objects replayed; it does not choose a provider.
      { configFlags: (flags) => ({ ...flags, source: undefined }) },
    ),
  );
}
