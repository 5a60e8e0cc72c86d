-- Invariant: for every site with hourly rows in the window, the latest conditions are its newest
-- hourly row.
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

sites as (
    select distinct h.site_id
    from gold_internal.site_hourly as h, params as p
    where h.hour >= p.window_start and h.hour < p.window_end
),

newest as (
    select s.site_id, (
        select max(h.hour) from gold_internal.site_hourly as h where h.site_id = s.site_id
    ) as newest_hour
    from sites as s
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select n.site_id, n.newest_hour, l.hour as latest_hour
    from newest as n
    left join gold_internal.site_latest_conditions as l on l.site_id = n.site_id
    where l.hour is distinct from n.newest_hour
)

select * from final
