-- Keys and counts of gold_internal.site_hourly are never null.
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
    select h.site_id, h.hour
    from gold_internal.site_hourly as h, params as p
    where h.hour >= p.window_start and h.hour < p.window_end
        and (h.site_id is null or h.hour is null or h.observed_at is null
            or h.source_count is null or h.sources is null)
)

select * from final
