/** Coverage from bronze in Postgres (or the embedded PGlite): the hours each site has a row for. */
import type pg from "pg";
import { intervalStart } from "../domain/interval.ts";
import type { CoverageReader } from "../ports.ts";

export function pgCoverageReader(pool: pg.Pool): CoverageReader {
  return {
    async presentHours(args) {
      const { rows } = await pool.query<{ site_id: string; hour: string }>(
        `select distinct site_id, to_char(date_trunc('hour', observed_at at time zone 'UTC'), 'YYYY-MM-DD"T"HH24') as hour
         from bronze.weather_observations
         where observed_at >= $1 and observed_at < $2 and site_id = any($3) and ($4::text is null or source = $4)`,
        [
          intervalStart(args.from),
          new Date(intervalStart(args.to).getTime() + 3_600_000),
          args.siteIds,
          args.source ?? null,
        ],
      );
      const present = new Map<string, Set<string>>();
      for (const r of rows) {
        const hours = present.get(r.site_id) ?? new Set<string>();
        hours.add(r.hour);
        present.set(r.site_id, hours);
      }
      return present;
    },
  };
}
