-- Invariant: min_temp_c <= mean_temp_c <= max_temp_c (with a rounding tolerance for the mean).
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
    select d.site_id, d.day, d.min_temp_c, d.mean_temp_c, d.max_temp_c
    from gold_internal.site_daily as d, params as p
    where d.day between p.first_day and p.last_day
        and (d.min_temp_c > d.max_temp_c
            or d.mean_temp_c < d.min_temp_c - 1e-9
            or d.mean_temp_c > d.max_temp_c + 1e-9)
)

select * from final
