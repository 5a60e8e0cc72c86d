-- Row-count sanity: every (site, source, hour) with bronze rows has exactly one silver row, and
-- no silver row lacks bronze. Bronze rows loaded by a later interval's ingestion run may not have
-- been transformed yet, so they only count against orphans.
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

interval_label as (
    select current_setting('wdo.interval') as interval
),

bronze_keys as (
    select
        b.site_id,
        b.source,
        date_trunc('hour', b.observed_at, 'UTC') as hour,
        count(*) filter (
            where not exists (
                select 1 from ops.ingestion_runs as r, interval_label as i
                where r.run_id = b.ingestion_run_id and r.interval > i.interval
            )
        ) as due_rows,
        count(*) as bronze_rows
    from bronze.weather_observations as b, params as p
    where b.observed_at >= p.window_start and b.observed_at < p.window_end
    group by 1, 2, 3
),

silver_keys as (
    select o.site_id, o.source, o.hour, count(*) as silver_rows
    from silver.observations as o, params as p
    where o.hour >= p.window_start and o.hour < p.window_end
    group by 1, 2, 3
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select
        coalesce(b.site_id, s.site_id) as site_id,
        coalesce(b.source, s.source) as source,
        coalesce(b.hour, s.hour) as hour,
        coalesce(b.bronze_rows, 0) as bronze_rows,
        coalesce(s.silver_rows, 0) as silver_rows
    from bronze_keys as b
    full outer join silver_keys as s
        on b.site_id = s.site_id and b.source = s.source and b.hour = s.hour
    where (coalesce(b.due_rows, 0) > 0 and coalesce(s.silver_rows, 0) <> 1)
        or (coalesce(b.bronze_rows, 0) = 0 and s.silver_rows > 0)
)

select * from final
