-- gold_internal.site_hourly holds at most one row per (site_id, hour).
with

params as (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

final as (
    select h.site_id, h.hour, count(*) as copies
    from gold_internal.site_hourly as h, params as p
    where h.hour >= p.window_start and h.hour < p.window_end
    group by h.site_id, h.hour
    having count(*) > 1
)

select * from final
