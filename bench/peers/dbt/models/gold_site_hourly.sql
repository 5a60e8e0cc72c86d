-- gold_internal.site_hourly (sql/models/gold/site_hourly.sql) as a dbt incremental model: the same
-- CTEs from `plausible` on; the runner's scope (pg_temp.scope_hours) becomes the interval's hours.
{{ config(
    unique_key=['site_id', 'hour'],
    indexes=[
        {'columns': ['site_id', 'hour'], 'unique': True},
        {'columns': ['hour']},
    ],
) }}

with

silver_observations as (
    select *
    from {{ ref('silver_observations') }}
    {% if is_incremental() %}
    where hour >= '{{ var("interval_start") }}'::timestamptz
        and hour < '{{ var("interval_end") }}'::timestamptz
    {% endif %}
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
        string_agg(source, ',') over (
            partition by site_id, hour order by source
            rows between unbounded preceding and unbounded following
        ) as sources
    from plausible
),

aggregated as (
    -- Means in numeric, cast back: order-independent to the last bit (see gold/site_daily.sql).
    select
        site_id,
        hour,
        max(observed_at) as observed_at,
        avg(temperature_c::numeric)::double precision as temperature_c,
        avg(feels_like_c::numeric)::double precision as feels_like_c,
        avg(humidity_pct::numeric)::double precision as humidity_pct,
        avg(pressure_hpa::numeric)::double precision as pressure_hpa,
        avg(wind_speed_ms::numeric)::double precision as wind_speed_ms,
        max(wind_gust_ms) as wind_gust_ms,
        max(wind_direction_deg) filter (where recency = 1) as wind_direction_deg,
        avg(cloud_cover_pct::numeric)::double precision as cloud_cover_pct,
        avg(precipitation_mm_per_hour::numeric)::double precision as precipitation_mm,
        max(condition_code) filter (where recency = 1) as condition_code,
        max(condition_system) filter (where recency = 1) as condition_system,
        count(*)::integer as source_count,
        max(sources) as sources,
        -- A bit per kind instead of string_agg(distinct ...): no sort per group (see ranked).
        bit_or(case kind when 'archive' then 1 when 'current' then 2 when 'forecast' then 4 end) as kind_bits
    from ranked
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
        sources,
        concat_ws(
            ',',
            case when kind_bits & 1 > 0 then 'archive' end,
            case when kind_bits & 2 > 0 then 'current' end,
            case when kind_bits & 4 > 0 then 'forecast' end
        ) as kinds
    from aggregated
)

select * from final
