-- Keys and counts of gold_internal.site_daily are never null.
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select
        (current_setting('wdo.window_start')::timestamptz at time zone 'UTC')::date as first_day,
        ((current_setting('wdo.window_end')::timestamptz - interval '1 microsecond') at time zone 'UTC')::date
            as last_day
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select d.site_id, d.day
    from gold_internal.site_daily as d, params as p
    where d.day between p.first_day and p.last_day
        and (d.site_id is null or d.day is null or d.hours_observed is null
            or d.observation_count is null or d.last_observed_at is null)
)

select * from final
