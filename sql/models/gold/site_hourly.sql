-- gold_internal.site_hourly: one row per (site_id, UTC hour) with at least one plausible silver row.
-- Sources are combined: numeric values are averaged, gusts take the maximum, and the direction and
-- condition come from the latest observation (averaging angles or codes would be meaningless).
-- Scope: pg_temp.scope_hours (site_id, range_start, range_end), hour-aligned.
with

scope as (
    select site_id, range_start, range_end
    from pg_temp.scope_hours
),

silver_observations as (
    select o.*
    from silver.observations as o
    inner join scope as s
        on o.site_id = s.site_id
        and o.hour >= s.range_start
        and o.hour < s.range_end
),

plausible as (
    select * from silver_observations where is_plausible
),

aggregated as (
    select
        site_id,
        hour,
        max(observed_at) as observed_at,
        avg(temperature_c) as temperature_c,
        avg(feels_like_c) as feels_like_c,
        avg(humidity_pct) as humidity_pct,
        avg(pressure_hpa) as pressure_hpa,
        avg(wind_speed_ms) as wind_speed_ms,
        max(wind_gust_ms) as wind_gust_ms,
        (array_agg(wind_direction_deg order by observed_at desc, source))[1] as wind_direction_deg,
        avg(cloud_cover_pct) as cloud_cover_pct,
        avg(precipitation_mm_per_hour) as precipitation_mm,
        (array_agg(condition_code order by observed_at desc, source))[1] as condition_code,
        (array_agg(condition_system order by observed_at desc, source))[1] as condition_system,
        count(*)::integer as source_count,
        string_agg(source, ',' order by source) as sources
    from plausible
    group by site_id, hour
),

final as (
    select
        site_id,
        hour,
        observed_at,
        temperature_c,
        feels_like_c,
        humidity_pct,
        pressure_hpa,
        wind_speed_ms,
        wind_gust_ms,
        wind_direction_deg,
        cloud_cover_pct,
        precipitation_mm,
        condition_code,
        condition_system,
        source_count,
        sources
    from aggregated
)

select * from final
