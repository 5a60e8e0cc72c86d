-- gold.v_site_hourly: read by analysts and the Superset datasets (superset/bundle/datasets). Applied with
-- `create or replace` after migrations (core/db/migrate.ts); keep columns, add new ones at the end.
create or replace view gold.v_site_hourly as
select
    h.site_id,
    s.site_name,
    s.country,
    h.hour,
    (h.hour at time zone 'UTC')::date as day,
    h.observed_at,
    h.temperature_c,
    h.feels_like_c,
    h.humidity_pct,
    h.pressure_hpa,
    h.wind_speed_ms,
    h.wind_gust_ms,
    h.wind_direction_deg,
    h.cloud_cover_pct,
    h.precipitation_mm,
    h.condition_code,
    h.condition_system,
    h.source_count,
    h.sources,
    h.kinds
from gold_internal.site_hourly as h
left join silver.sites as s on s.site_id = h.site_id;
