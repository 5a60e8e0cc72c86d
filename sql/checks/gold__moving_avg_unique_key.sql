-- gold_internal.site_temperature_moving_avg holds at most one row per (site_id, hour).
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select m.site_id, m.hour, count(*) as copies
    from gold_internal.site_temperature_moving_avg as m, params as p
    where m.hour >= p.window_start and m.hour < p.window_end
    group by m.site_id, m.hour
    having count(*) > 1
)

select * from final
