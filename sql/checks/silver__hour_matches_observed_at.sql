-- Each silver row's hour is the UTC hour its observation fell in.
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
    select o.site_id, o.source, o.hour, o.observed_at
    from silver.observations as o, params as p
    where o.hour >= p.window_start and o.hour < p.window_end
        and (o.observed_at < o.hour or o.observed_at >= o.hour + interval '1 hour'
            or o.hour <> date_trunc('hour', o.hour, 'UTC'))
)

select * from final
