-- Key, lineage and flag columns of silver.observations are never null.
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
        and (
            o.site_id is null or o.source is null or o.hour is null or o.observed_at is null
            or o.is_plausible is null or o.observations_in_hour is null
            or o.ingestion_run_id is null
            or o.raw_object_key is null
        )
)

select * from final
