-- gold_internal.site_temperature_moving_avg holds at most one row per (site_id, hour).
with

params as (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

final as (
    select m.site_id, m.hour, count(*) as copies
    from gold_internal.site_temperature_moving_avg as m, params as p
    where m.hour >= p.window_start and m.hour < p.window_end
    group by m.site_id, m.hour
    having count(*) > 1
)

select * from final
