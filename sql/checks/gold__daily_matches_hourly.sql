-- Row-count sanity: one daily row per (site, UTC day) with hourly rows, counting them all.
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select
        (current_setting('wdo.window_start')::timestamptz at time zone 'UTC')::date as first_day,
        ((current_setting('wdo.window_end')::timestamptz - interval '1 microsecond') at time zone 'UTC')::date
            as last_day
),

hourly_days as (
    select h.site_id, (h.hour at time zone 'UTC')::date as day, count(*) as hours, sum(h.source_count) as observations
    from gold_internal.site_hourly as h, params as p
    where h.hour >= (p.first_day::timestamp at time zone 'UTC')
        and h.hour < ((p.last_day + 1)::timestamp at time zone 'UTC')
    group by 1, 2
),

daily as (
    select d.site_id, d.day, d.hours_observed, d.observation_count
    from gold_internal.site_daily as d, params as p
    where d.day between p.first_day and p.last_day
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select
        coalesce(h.site_id, d.site_id) as site_id,
        coalesce(h.day, d.day) as day,
        h.hours,
        d.hours_observed,
        h.observations,
        d.observation_count
    from hourly_days as h
    full outer join daily as d on d.site_id = h.site_id and d.day = h.day
    where h.hours is distinct from d.hours_observed::bigint
        or h.observations is distinct from d.observation_count::bigint
)

select * from final
