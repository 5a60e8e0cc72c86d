-- Up Migration
-- v_pipeline_health aggregated every run ever recorded (8,760 ingestion runs a year), which put the
-- dashboard's health panel over its 20 ms budget. It now looks at the last 30 days, found through
-- started_at indexes; last_success_at is null when nothing succeeded in that time.
create index if not exists ingestion_runs_started_idx on ops.ingestion_runs (started_at);
create index if not exists transform_runs_started_at_idx on ops.transform_runs (started_at);
create index if not exists quality_check_runs_started_idx on ops.quality_check_runs (started_at);

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
        count(*) filter (where started_at >= now() - interval '24 hours' and status = 'failed') as failures_24h,
        max(started_at) as last_started_at,
        max(finished_at) filter (where status in ('succeeded', 'passed')) as last_success_at
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
    round((extract(epoch from (now() - s.last_success_at)) / 60)::numeric, 1) as minutes_since_success
from summary as s
inner join last_run as l on l.component = s.component;

-- Down Migration
drop index if exists ops.quality_check_runs_started_idx;
drop index if exists ops.transform_runs_started_at_idx;
drop index if exists ops.ingestion_runs_started_idx;
