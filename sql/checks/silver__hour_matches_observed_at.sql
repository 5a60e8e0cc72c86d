-- Each silver row's hour is the UTC hour its observation fell in.
with

params as (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

final as (
    select o.site_id, o.source, o.hour, o.observed_at
    from silver.observations as o, params as p
    where o.hour >= p.window_start and o.hour < p.window_end
        and (o.observed_at < o.hour or o.observed_at >= o.hour + interval '1 hour'
            or o.hour <> date_trunc('hour', o.hour, 'UTC'))
)

select * from final
