-- Keys and sample counts of the moving averages are never null.
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
    select m.site_id, m.hour
    from gold_internal.site_temperature_moving_avg as m, params as p
    where m.hour >= p.window_start and m.hour < p.window_end
        and (m.site_id is null or m.hour is null or m.samples_24h is null or m.samples_7d is null)
)

select * from final
