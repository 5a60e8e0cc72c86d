/**
 * The warehouse (core/ports.ts `Warehouse`) on Postgres or embedded PGlite: the transform's one
 * transaction (core/sql/runner.ts `transformInTransaction`) and the quality checks' read-only
 * snapshot. Each call holds one client of the pool for its transaction and releases it before
 * returning, so the ops ledger can write on the same single-session PGlite afterwards.
 */
import pg from "pg";
import type {
  CheckResult,
  CheckSettings,
  LayerTransformOutput,
  RenderedCheck,
  TransformRunStart,
  Warehouse,
} from "#core/ports.ts";
import { transformInTransaction } from "#core/sql/runner.ts";

const SAMPLE_ROWS = 5;
// A failing check may match millions of rows; counting stops here (QualityCheckFailedError says "1000+").
export const MAX_COUNTED_ROWS = 1000;

// Dates stay text in samples: pg would turn them into local-midnight Date objects.
const SAMPLE_TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.DATE
      ? (v: string) => v
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function jsonSafe(row: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

export class PgWarehouse implements Warehouse {
  constructor(private readonly pool: pg.Pool) {}

  async transformLayer(runId: number, run: TransformRunStart): Promise<LayerTransformOutput> {
    const { nextWatermark: _, ...out } = await transformInTransaction(this.pool, runId, run);
    return out;
  }

  async runChecks(checks: RenderedCheck[], settings: CheckSettings): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      await client.query("begin isolation level repeatable read read only");
      await client.query("set local time zone 'UTC'");
      // Checks scan one window; JIT's compile time costs more than it saves on such scans.
      await client.query("set local jit = off");
      // A backfill's window holds a year of rows: its window functions and anti-joins sort millions of
      // them, which spill to disk at the default 4 MB. The hourly window stays small (as in runner.ts).
      const windowHours = (Date.parse(settings.window_end) - Date.parse(settings.window_start)) / 3_600_000;
      await client.query(`set local work_mem = '${windowHours > 7 * 24 ? "256MB" : "64MB"}'`);
      await client.query(
        `select set_config('wdo.interval', $1, true), set_config('wdo.interval_start', $2, true),
                set_config('wdo.window_start', $3, true), set_config('wdo.window_end', $4, true),
                set_config('wdo.now', $5, true)`,
        [
          settings.interval,
          settings.interval_start,
          settings.window_start,
          settings.window_end,
          settings.now,
        ],
      );
      for (const check of checks) {
        const t0 = performance.now();
        const { rows } = await client.query<Record<string, unknown>>({
          text: `select * from (${check.sql}) as failing limit ${MAX_COUNTED_ROWS}`,
          types: SAMPLE_TYPES,
        });
        results.push({
          name: check.name,
          layer: check.layer,
          severity: check.severity,
          passed: rows.length === 0,
          failingRows: rows.length,
          sample: rows.slice(0, SAMPLE_ROWS).map(jsonSafe),
          durationMs: Math.round((performance.now() - t0) * 100) / 100,
        });
      }
      await client.query("commit");
      return results;
    } catch (e) {
      await client?.query("rollback").catch(() => {});
      throw e;
    } finally {
      client?.release();
    }
  }
}
