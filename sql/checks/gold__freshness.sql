-- Freshness: the newest gold observation is younger than 2 hours at the reference time wdo.now.
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select current_setting('wdo.now')::timestamptz as now
),

latest as (
    select max(observed_at) as latest_observed_at
    from gold_internal.site_latest_conditions
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select
        l.latest_observed_at,
        p.now,
        round((extract(epoch from (p.now - l.latest_observed_at)) / 60)::numeric, 1) as age_minutes
    from latest as l, params as p
    where l.latest_observed_at is null or l.latest_observed_at < p.now - interval '2 hours'
)

select * from final
