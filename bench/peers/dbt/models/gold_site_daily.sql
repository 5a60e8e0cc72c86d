-- gold_internal.site_daily (sql/models/gold/site_daily.sql) as a dbt incremental model: the same
-- CTEs from `dated` on; the runner's scope (pg_temp.scope_days) becomes the whole UTC days of the
-- interval for the sites with silver rows in it.
-- depends_on: {{ ref('silver_observations') }}
{{ config(
    unique_key=['site_id', 'day'],
    indexes=[
        {'columns': ['site_id', 'day'], 'unique': True},
        {'columns': ['day']},
    ],
) }}

with

hourly as (
    select h.*
    from {{ ref('gold_site_hourly') }} as h
    {% if is_incremental() %}
    where h.hour >= date_trunc('day', '{{ var("interval_start") }}'::timestamptz, 'UTC')
        and h.hour < date_trunc(
            'day', '{{ var("interval_end") }}'::timestamptz - interval '1 microsecond', 'UTC'
        ) + interval '1 day'
        and h.site_id in (
            select o.site_id from {{ ref('silver_observations') }} as o
            where o.hour >= '{{ var("interval_start") }}'::timestamptz
                and o.hour < '{{ var("interval_end") }}'::timestamptz
        )
    {% endif %}
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
