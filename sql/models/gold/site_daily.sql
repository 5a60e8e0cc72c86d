-- gold_internal.site_daily: one row per (site_id, UTC date) from the gold hourly rows of that day.
-- "day" is the UTC date: bronze carries no timezone, and a UTC day keeps every site comparable.
-- Scope: pg_temp.scope_days (site_id, range_start, range_end), aligned to UTC midnights.
with

scope as (
    select site_id, range_start, range_end
    from pg_temp.scope_days
),

hourly as (
    -- lateral + offset 0: an index range scan per scope row (see silver/observations.sql).
    select h.*
    from scope as s
    cross join lateral (
        select *
        from gold_internal.site_hourly
        where site_id = s.site_id
            and hour >= s.range_start
            and hour < s.range_end
        offset 0
    ) as h
),

dated as (
    select
        *,
        (hour at time zone 'UTC')::date as day
    from hourly
),

aggregated as (
    -- Sums and means in numeric, cast back: a float sum depends on the order rows arrive in, so a
    -- full rebuild and an incremental run would differ in the last bit (6.8625 vs
    -- 6.862500000000001). Numeric addition is exact, hence order-independent; float8 -> numeric
    -- keeps 15 significant digits, far below any sensor's resolution.
    select
        site_id,
        day,
        min(temperature_c) as min_temp_c,
        max(temperature_c) as max_temp_c,
        avg(temperature_c::numeric)::double precision as mean_temp_c,
        sum(precipitation_mm::numeric)::double precision as precipitation_mm,
        max(wind_gust_ms) as max_gust_ms,
        avg(humidity_pct::numeric)::double precision as mean_humidity_pct,
        count(*)::integer as hours_observed,
        sum(source_count)::integer as observation_count,
        max(observed_at) as last_observed_at
    from dated
    group by site_id, day
),

final as (
    select
        site_id,
        day,
        min_temp_c,
        max_temp_c,
        mean_temp_c,
        precipitation_mm,
        max_gust_ms,
        mean_humidity_pct,
        hours_observed,
        observation_count,
        last_observed_at
    from aggregated
)

select * from final
