-- gold_internal.site_latest_conditions (sql/models/gold/site_latest_conditions.sql) as a dbt
-- incremental model: the same CTEs from `latest_hourly` on; the runner's scope (pg_temp.scope_sites)
-- becomes the sites with silver rows in the interval (a full build: every site).
{{ config(
    unique_key=['site_id'],
    indexes=[{'columns': ['site_id'], 'unique': True}],
) }}

with

scope as (
    select distinct site_id
    from {{ ref('silver_observations') }}
    {% if is_incremental() %}
    where hour >= '{{ var("interval_start") }}'::timestamptz
        and hour < '{{ var("interval_end") }}'::timestamptz
    {% endif %}
),

latest_hourly as (
    select h.*
    from scope as s
    cross join lateral (
        select *
        from {{ ref('gold_site_hourly') }} as h
        where h.site_id = s.site_id
        order by h.hour desc
        limit 1
    ) as h
),

moving_avg as (
    select m.site_id, m.hour, m.temp_ma_24h_c
    from {{ ref('gold_site_temperature_moving_avg') }} as m
    inner join latest_hourly as l on l.site_id = m.site_id and l.hour = m.hour
),

final as (
    select
        l.site_id,
        l.hour,
        l.observed_at,
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
        m.temp_ma_24h_c,
        l.sources
    from latest_hourly as l
    left join moving_avg as m on m.site_id = l.site_id and m.hour = l.hour
)

select * from final
