-- Row-count sanity: one hourly row per (site, hour) with plausible silver rows, counting them all.
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

silver_hours as (
    select o.site_id, o.hour, count(*) as plausible_rows
    from silver.observations as o, params as p
    where o.hour >= p.window_start and o.hour < p.window_end and o.is_plausible
    group by o.site_id, o.hour
),

gold_hours as (
    select h.site_id, h.hour, h.source_count
    from gold_internal.site_hourly as h, params as p
    where h.hour >= p.window_start and h.hour < p.window_end
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select
        coalesce(s.site_id, g.site_id) as site_id,
        coalesce(s.hour, g.hour) as hour,
        s.plausible_rows,
        g.source_count
    from silver_hours as s
    full outer join gold_hours as g on g.site_id = s.site_id and g.hour = s.hour
    where s.plausible_rows is distinct from g.source_count::bigint
)

select * from final
