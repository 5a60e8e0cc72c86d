-- gold.v_latest_conditions: read by analysts and the Superset datasets (superset/bundle/datasets). Applied with
-- `create or replace` after migrations (core/db/migrate.ts); keep columns, add new ones at the end.
create or replace view gold.v_latest_conditions as
select
    l.site_id,
    s.site_name,
    s.country,
    s.latitude,
    s.longitude,
    s.timezone,
    l.hour,
    l.observed_at,
    round((extract(epoch from (now() - l.observed_at)) / 60)::numeric, 1) as age_minutes,
    l.temperature_c,
    l.feels_like_c,
    l.humidity_pct,
    l.pressure_hpa,
    l.wind_speed_ms,
    l.wind_gust_ms,
    l.wind_direction_deg,
    l.cloud_cover_pct,
    l.precipitation_mm,
    l.condition_code,
    l.condition_system,
    l.temp_ma_24h_c,
    l.sources
from gold_internal.site_latest_conditions as l
left join silver.sites as s on s.site_id = l.site_id;
