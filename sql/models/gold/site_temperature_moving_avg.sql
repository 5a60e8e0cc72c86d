-- gold_internal.site_temperature_moving_avg: per (site_id, hour) the mean temperature of the
-- trailing 24 hours and 7 days. Windows are time-based (range over the hour), not row-based, so
-- gaps in the data shorten the sample instead of stretching the window.
-- Scope: pg_temp.scope_moving_avg (site_id, range_start, range_end) = the hours whose windows
-- contain a changed hour; the 167 hours before each range are read as window input.
with

scope as (
    select site_id, range_start, range_end
    from pg_temp.scope_moving_avg
),

hourly as (
    -- A semi-join: input ranges of neighbouring scopes overlap, and each hour must appear once.
    select h.site_id, h.hour, h.temperature_c
    from gold_internal.site_hourly as h
    where exists (
        select 1
        from scope as s
        where h.site_id = s.site_id
            and h.hour >= s.range_start - interval '167 hours'
            and h.hour < s.range_end
    )
),

windowed as (
    select
        site_id,
        hour,
        temperature_c,
        avg(temperature_c) over last_24h as temp_ma_24h_c,
        avg(temperature_c) over last_7d as temp_ma_7d_c,
        count(temperature_c) over last_24h as samples_24h,
        count(temperature_c) over last_7d as samples_7d
    from hourly
    window
        last_24h as (
            partition by site_id order by hour
            range between interval '23 hours' preceding and current row
        ),
        last_7d as (
            partition by site_id order by hour
            range between interval '167 hours' preceding and current row
        )
),

in_scope as (
    select w.*
    from windowed as w
    inner join scope as s
        on w.site_id = s.site_id
        and w.hour >= s.range_start
        and w.hour < s.range_end
),

final as (
    select
        site_id,
        hour,
        temperature_c,
        temp_ma_24h_c,
        temp_ma_7d_c,
        samples_24h::integer as samples_24h,
        samples_7d::integer as samples_7d
    from in_scope
)

select * from final
