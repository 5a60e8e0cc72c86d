-- gold.v_site_daily: read by analysts and the Superset datasets (superset/bundle/datasets). Applied with
-- `create or replace` after migrations (core/db/migrate.ts); keep columns, add new ones at the end.
create or replace view gold.v_site_daily as
select
    d.site_id,
    s.site_name,
    s.country,
    d.day,
    d.min_temp_c,
    d.max_temp_c,
    d.mean_temp_c,
    d.precipitation_mm,
    d.max_gust_ms,
    d.mean_humidity_pct,
    d.hours_observed,
    d.observation_count,
    d.last_observed_at
from gold_internal.site_daily as d
left join silver.sites as s on s.site_id = d.site_id;
