-- Row-count sanity: one moving-average row per hourly row.
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

hourly as (
    select h.site_id, h.hour
    from gold_internal.site_hourly as h, params as p
    where h.hour >= p.window_start and h.hour < p.window_end
),

moving_avg as (
    select m.site_id, m.hour
    from gold_internal.site_temperature_moving_avg as m, params as p
    where m.hour >= p.window_start and m.hour < p.window_end
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select coalesce(h.site_id, m.site_id) as site_id, coalesce(h.hour, m.hour) as hour,
        h.hour is not null as in_hourly, m.hour is not null as in_moving_avg
    from hourly as h
    full outer join moving_avg as m on m.site_id = h.site_id and m.hour = h.hour
    where h.hour is null or m.hour is null
)

select * from final
