-- gold_internal.site_temperature_moving_avg (sql/models/gold/site_temperature_moving_avg.sql) as a dbt
-- incremental model: the same CTEs from `input_ranges` on; the runner's scope
-- (pg_temp.scope_moving_avg) becomes, per site with silver rows in the interval, the hours whose
-- 7-day window holds the interval (up to 167 h after it); a full build, all hours of every site.
{{ config(
    unique_key=['site_id', 'hour'],
    indexes=[
        {'columns': ['site_id', 'hour'], 'unique': True},
        {'columns': ['hour']},
    ],
) }}

with

scope as (
    {% if is_incremental() %}
    select distinct
        site_id,
        '{{ var("interval_start") }}'::timestamptz as range_start,
        '{{ var("interval_end") }}'::timestamptz + interval '167 hours' as range_end
    from {{ ref('silver_observations') }}
    where hour >= '{{ var("interval_start") }}'::timestamptz
        and hour < '{{ var("interval_end") }}'::timestamptz
    {% else %}
    select distinct
        site_id,
        '-infinity'::timestamptz as range_start,
        'infinity'::timestamptz as range_end
    from {{ ref('silver_observations') }}
    {% endif %}
),

input_ranges as (
    -- One input range per site (ranges of neighbouring scopes overlap, and each hour must be read
    -- once), so the join is an index range scan per site rather than a scan of its history.
    select
        site_id,
        min(range_start) - interval '167 hours' as input_start,
        max(range_end) as input_end
    from scope
    group by site_id
    order by site_id
),

hourly as (
    -- lateral + offset 0 (a fence the planner cannot flatten): an index range scan per site
    -- whatever the estimates say, so cost follows the scope and never the length of the history.
    select
        h.site_id,
        h.hour,
        h.temperature_c,
        round(h.temperature_c * 1000)::bigint as temperature_mc,
        r.input_start + interval '167 hours' as output_start
    from input_ranges as r
    cross join lateral (
        select site_id, hour, temperature_c
        from {{ ref('gold_site_hourly') }}
        where site_id = r.site_id
            and hour >= r.input_start
            and hour < r.input_end
        offset 0
    ) as h
),

-- Window cost grows with the rows it slides over, so each window gets only the input it needs:
-- the 24-hour one the 23 hours before a site's first output hour, the 7-day one 167 hours.
-- Temperatures are integer milli-degrees, because avg(bigint) has an inverse transition (a
-- sliding frame costs O(1) a row; avg(float8) has none). 0.001 °C is below any sensor's resolution.
windowed_24h as (
    select
        site_id,
        hour,
        output_start,
        avg(temperature_mc) over last_24h / 1000 as temp_ma_24h_c,
        count(temperature_mc) over last_24h as samples_24h
    from hourly
    where hour >= output_start - interval '23 hours'
    window last_24h as (
        partition by site_id order by hour
        range between interval '23 hours' preceding and current row
    )
),

windowed_7d as (
    select
        site_id,
        hour,
        output_start,
        temperature_c,
        avg(temperature_mc) over last_7d / 1000 as temp_ma_7d_c,
        count(temperature_mc) over last_7d as samples_7d
    from hourly
    window last_7d as (
        partition by site_id order by hour
        range between interval '167 hours' preceding and current row
    )
),

in_scope as (
    -- Hours before a site's first output hour were window input only; dropping them before the
    -- joins keeps those small.
    select
        w7.site_id,
        w7.hour,
        w7.temperature_c,
        w24.temp_ma_24h_c,
        w7.temp_ma_7d_c,
        w24.samples_24h,
        w7.samples_7d
    from windowed_7d as w7
    inner join windowed_24h as w24
        on w24.site_id = w7.site_id
        and w24.hour = w7.hour
        and w24.hour >= w24.output_start
    where w7.hour >= w7.output_start
        and exists (
            select 1
            from scope as s
            where w7.site_id = s.site_id
                and w7.hour >= s.range_start
                and w7.hour < s.range_end
        )
),

final as (
    select
        site_id,
        hour,
        temperature_c,
        temp_ma_24h_c::double precision as temp_ma_24h_c,
        temp_ma_7d_c::double precision as temp_ma_7d_c,
        samples_24h::integer as samples_24h,
        samples_7d::integer as samples_7d
    from in_scope
)

select * from final
