-- Keys and sample counts of the moving averages are never null.
with

params as (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

final as (
    select m.site_id, m.hour
    from gold_internal.site_temperature_moving_avg as m, params as p
    where m.hour >= p.window_start and m.hour < p.window_end
        and (m.site_id is null or m.hour is null or m.samples_24h is null or m.samples_7d is null)
)

select * from final
