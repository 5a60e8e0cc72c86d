-- gold.v_pipeline_health: read by analysts and the Superset datasets (superset/bundle/datasets). Applied with
-- `create or replace` after migrations (core/db/migrate.ts); keep columns, add new ones at the end.
create or replace view gold.v_pipeline_health as
with runs as (
    select * from gold.v_pipeline_runs
    where started_at >= now() - interval '30 days'
),
summary as (
    select
        kind,
        component,
        count(*) filter (where started_at >= now() - interval '24 hours') as runs_24h,
        count(*) filter (
            where started_at >= now() - interval '24 hours' and status in ('failed', 'abandoned')
        ) as failures_24h,
        max(started_at) as last_started_at,
        max(finished_at) filter (where status in ('succeeded', 'passed')) as last_success_at,
        count(*) filter (where started_at >= now() - interval '24 hours' and status = 'abandoned') as abandoned_24h
    from runs
    group by kind, component
),
last_run as (
    select distinct on (component) component, status as last_status, interval as last_interval
    from runs
    order by component, started_at desc
)
select
    s.kind,
    s.component,
    s.runs_24h,
    s.failures_24h,
    l.last_status,
    l.last_interval,
    s.last_started_at,
    s.last_success_at,
    round((extract(epoch from (now() - s.last_success_at)) / 60)::numeric, 1) as minutes_since_success,
    s.abandoned_24h
from summary as s
inner join last_run as l on l.component = s.component;
