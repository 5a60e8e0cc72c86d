-- silver.observations holds at most one row per (site_id, source, hour).
with

params as (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

silver_observations as (
    select o.site_id, o.source, o.hour
    from silver.observations as o, params as p
    where o.hour >= p.window_start and o.hour < p.window_end
),

final as (
    select site_id, source, hour, count(*) as copies
    from silver_observations
    group by site_id, source, hour
    having count(*) > 1
)

select * from final
