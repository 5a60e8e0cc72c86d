-- gold.v_temperature_moving_avg: read by analysts and the Superset datasets (superset/bundle/datasets). Applied with
-- `create or replace` after migrations (core/db/migrate.ts); keep columns, add new ones at the end.
create or replace view gold.v_temperature_moving_avg as
select
    m.site_id,
    s.site_name,
    m.hour,
    m.temperature_c,
    m.temp_ma_24h_c,
    m.temp_ma_7d_c,
    m.samples_24h,
    m.samples_7d
from gold_internal.site_temperature_moving_avg as m
left join silver.sites as s on s.site_id = m.site_id;
