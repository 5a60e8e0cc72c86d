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
    -- lateral + offset 0: an index range scan per scope row (see silver/observations.sql).
    select o.*
    from scope as s
    cross join lateral (
        select *
        from silver.observations
        where site_id = s.site_id
            and hour >= s.range_start
            and hour < s.range_end
        offset 0
    ) as o
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
