-- gold_internal.site_hourly: one row per (site_id, UTC hour) with at least one plausible silver row.
-- Sources are combined: numeric values are averaged, gusts take the maximum, and the direction and
-- condition come from the latest observation (ties: the first source by name), since averaging
-- angles or codes would be meaningless.
-- Kinds are not combined: silver already keeps one kind per site, source and hour (precedence), so
-- a history row and a live row of one hour never count twice; kinds lists the kinds behind the row.
-- Scope: pg_temp.scope_hours (site_id, range_start, range_end), hour-aligned; and
-- pg_temp.scope_one_source (site_id, source): the sites whose silver rows in the scope all have one
-- source (filled by a full run only; see one_source_hours).
with

scope as (
    -- The sites of several sources (and every site outside a full run), in key order: see
    -- silver_observations.
    select h.site_id, h.range_start, h.range_end
    from pg_temp.scope_hours as h
    where not exists (select 1 from pg_temp.scope_one_source as o where o.site_id = h.site_id)
    order by h.site_id
),

one_source_scope as (
    select h.site_id, h.range_start, h.range_end, o.source
    from pg_temp.scope_hours as h
    inner join pg_temp.scope_one_source as o on o.site_id = h.site_id
),

one_source_hours as (
    -- A site of one source has one silver row an hour (silver's key), so its plausible rows are its
    -- hours as they are: what the aggregates below make of one row (the mean of one value is that
    -- value; precipitation's numeric round trip kept), without sorting, two windows and some twenty
    -- aggregates an hour. 200 sites x 1 year of one source: the model's select 4.5 s against 7.5 s,
    -- the same rows (except all, both ways). Reading the scope's source alone keeps a second source
    -- landed in silver since the scope was taken out (its rows are after the watermark: the next run
    -- recomputes their hours).
    select
        s.site_id,
        o.hour,
        o.observed_at,
        o.temperature_c,
        o.feels_like_c,
        o.humidity_pct,
        o.pressure_hpa,
        o.wind_speed_ms,
        o.wind_gust_ms,
        o.wind_direction_deg,
        o.cloud_cover_pct,
        o.precipitation_mm_per_hour::numeric::double precision as precipitation_mm,
        o.condition_code,
        o.condition_system,
        1 as source_count,
        o.source as sources,
        o.kind as kinds
    from one_source_scope as s
    cross join lateral (
        select *
        from silver.observations
        where site_id = s.site_id
            and source = s.source
            and hour >= s.range_start
            and hour < s.range_end
            and is_plausible
        offset 0
    ) as o
),

silver_observations as (
    -- lateral + offset 0: an index range scan per scope row (see silver/observations.sql), the key
    -- taken from the scope so the planner knows rows arrive by site (incremental sort per site).
    select
        s.site_id,
        o.hour,
        o.source,
        o.kind,
        o.observed_at,
        o.is_plausible,
        o.temperature_c,
        o.feels_like_c,
        o.humidity_pct,
        o.pressure_hpa,
        o.wind_speed_ms,
        o.wind_gust_ms,
        o.wind_direction_deg,
        o.cloud_cover_pct,
        o.precipitation_mm_per_hour,
        o.condition_code,
        o.condition_system
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

ranked as (
    -- Window functions instead of ordered aggregates (array_agg(... order by ...)): on PostgreSQL
    -- 15 those set up a sort per group, which dominates a full rebuild of millions of hours.
    select
        *,
        row_number() over (
            partition by site_id, hour order by observed_at desc, source
        ) as recency,
        string_agg(source, ',') over sources_of_hour as sources,
        count(*) over sources_of_hour as rows_in_hour
    from plausible
    window sources_of_hour as (
        partition by site_id, hour order by source
        rows between unbounded preceding and unbounded following
    )
),

aggregated as (
    -- Means of several sources in numeric, cast back: order-independent to the last bit (see
    -- gold/site_daily.sql). An hour of one source (nearly every hour) takes its value as it is: the
    -- mean of one value needs no order, and a double -> numeric -> double round trip per column and
    -- hour was 35 % of a full rebuild's hourly step (100 sites x 1 year: 5.4 s against 3.5 s). The
    -- values are the providers' JSON numbers or the adapters' conversions, rounded to 2 decimals
    -- (core/domain/units.ts), which that round trip (15 significant digits) returns unchanged;
    -- precipitation alone is computed in silver (a rate per hour: 0.1 mm over 7 minutes is
    -- 0.8571428571428571) and keeps it, so its values stay as they were (0.857142857142857).
    select
        site_id,
        hour,
        max(observed_at) as observed_at,
        case when count(*) = 1 then max(temperature_c)
            else (avg(temperature_c::numeric) filter (where rows_in_hour > 1))::double precision end
            as temperature_c,
        case when count(*) = 1 then max(feels_like_c)
            else (avg(feels_like_c::numeric) filter (where rows_in_hour > 1))::double precision end
            as feels_like_c,
        case when count(*) = 1 then max(humidity_pct)
            else (avg(humidity_pct::numeric) filter (where rows_in_hour > 1))::double precision end
            as humidity_pct,
        case when count(*) = 1 then max(pressure_hpa)
            else (avg(pressure_hpa::numeric) filter (where rows_in_hour > 1))::double precision end
            as pressure_hpa,
        case when count(*) = 1 then max(wind_speed_ms)
            else (avg(wind_speed_ms::numeric) filter (where rows_in_hour > 1))::double precision end
            as wind_speed_ms,
        max(wind_gust_ms) as wind_gust_ms,
        max(wind_direction_deg) filter (where recency = 1) as wind_direction_deg,
        case when count(*) = 1 then max(cloud_cover_pct)
            else (avg(cloud_cover_pct::numeric) filter (where rows_in_hour > 1))::double precision end
            as cloud_cover_pct,
        case when count(*) = 1 then max(precipitation_mm_per_hour)::numeric::double precision
            else (avg(precipitation_mm_per_hour::numeric) filter (where rows_in_hour > 1))::double precision end
            as precipitation_mm,
        max(condition_code) filter (where recency = 1) as condition_code,
        max(condition_system) filter (where recency = 1) as condition_system,
        count(*)::integer as source_count,
        max(sources) as sources,
        -- A bit per kind instead of string_agg(distinct ...): no sort per group (see ranked).
        bit_or(case kind when 'archive' then 1 when 'current' then 2 when 'forecast' then 4 end) as kind_bits
    from ranked
    group by site_id, hour
),

several_sources_hours as (
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
        sources,
        concat_ws(
            ',',
            case when kind_bits & 1 > 0 then 'archive' end,
            case when kind_bits & 2 > 0 then 'current' end,
            case when kind_bits & 4 > 0 then 'forecast' end
        ) as kinds
    from aggregated
),

final as (
    select * from one_source_hours
    union all
    select * from several_sources_hours
)

select * from final
