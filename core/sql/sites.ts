/**
 * The site dimension in silver.sites, which gold views join for names, countries and coordinates
 * (the map of latest conditions). Sites missing from it still flow through; only those columns stay
 * empty.
 */
import type pg from "pg";
import type { Site } from "#core/domain/sites.ts";

/** Upserts `sites` into silver.sites; sites no longer configured are kept (history refers to them). */
export async function syncSites(pool: pg.Pool, sites: readonly Site[]): Promise<number> {
  const result = await pool.query(
    `insert into silver.sites (site_id, site_name, latitude, longitude, timezone, country)
     select s.id, s.name, s.lat, s.lon, s.timezone, s.country
     from jsonb_to_recordset($1::jsonb) as s(id text, name text, lat float8, lon float8, timezone text, country text)
     on conflict (site_id) do update set
       site_name = excluded.site_name, latitude = excluded.latitude, longitude = excluded.longitude,
       timezone = excluded.timezone, country = excluded.country`,
    [JSON.stringify(sites)],
  );
  return result.rowCount ?? 0;
}
