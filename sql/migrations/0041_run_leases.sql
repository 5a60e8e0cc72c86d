-- Up Migration
-- Run leases. A process killed mid-run (OOM, SIGKILL, a Lambda timeout, a lost connection while
-- recording its outcome) used to leave its ledger row 'running' forever. Every run now holds a lease:
-- ingestion runs and workflow executions renew it by heartbeat (DB_RUN_LEASE_MS); transform and
-- quality-check runs work inside one transaction and get their time limit up front (DB_TASK_LEASE_MS).
-- A 'running' row whose lease expired belongs to a dead process: the views below and `weather status`
-- report it as 'abandoned', and the next run of that hour takes over (ingestion runs and workflow
-- executions reuse their row; transform and check runs mark the expired rows 'abandoned').
alter table ops.ingestion_runs add column lease_expires_at timestamptz;
alter table ops.transform_runs add column lease_expires_at timestamptz;
alter table ops.quality_check_runs add column lease_expires_at timestamptz;
alter table ops.workflow_executions add column lease_expires_at timestamptz;
-- Why a check run failed without results (e.g. the database connection was lost).
alter table ops.quality_check_runs add column error text;

-- Rows left running before leases existed: an hour from their start is far past any time limit.
update ops.ingestion_runs set lease_expires_at = started_at + interval '1 hour' where status = 'running';
update ops.transform_runs set lease_expires_at = started_at + interval '1 hour' where status = 'running';
update ops.workflow_executions set lease_expires_at = started_at + interval '1 hour' where status = 'running';

alter table ops.ingestion_runs
    drop constraint ingestion_runs_status_check,
    add constraint ingestion_runs_status_check
        check (status in ('running', 'succeeded', 'failed', 'abandoned'));
alter table ops.transform_runs
    drop constraint transform_runs_status_check,
    add constraint transform_runs_status_check
        check (status in ('running', 'succeeded', 'failed', 'abandoned'));
alter table ops.workflow_executions
    drop constraint workflow_executions_status_check,
    add constraint workflow_executions_status_check
        check (status in ('running', 'succeeded', 'failed', 'abandoned'));
-- Quality-check runs are now recorded when they start ('running'), not only when they finish.
alter table ops.quality_check_runs
    alter column finished_at drop not null,
    drop constraint quality_check_runs_status_check,
    add constraint quality_check_runs_status_check
        check (status in ('running', 'passed', 'failed', 'abandoned'));

-- Takeovers and `weather status` look for running rows only: keep that scan off the history.
create index ingestion_runs_running_idx on ops.ingestion_runs (lease_expires_at) where status = 'running';
create index transform_runs_running_idx on ops.transform_runs (layer, lease_expires_at) where status = 'running';
create index quality_check_runs_running_idx on ops.quality_check_runs (lease_expires_at)
where status = 'running';
create index workflow_executions_running_idx on ops.workflow_executions (lease_expires_at)
where status = 'running';

-- Same columns as before (the Superset datasets read them); status now says 'abandoned' for a
-- running row whose lease expired.
create or replace view gold.v_pipeline_runs as
select
    'ingestion'::text as kind,
    'ingest:' || r.source as component,
    r.run_id,
    r.interval,
    case when r.status = 'running' and r.lease_expires_at < now() then 'abandoned' else r.status end as status,
    r.started_at,
    r.finished_at,
    round((extract(epoch from (r.finished_at - r.started_at)))::numeric, 3) as duration_s,
    r.observations_loaded::bigint as rows_written,
    r.sites_failed::bigint as problems,
    r.error
from ops.ingestion_runs as r
union all
select
    'transform',
    'transform:' || t.layer,
    t.run_id::text,
    t.interval,
    case when t.status = 'running' and t.lease_expires_at < now() then 'abandoned' else t.status end,
    t.started_at,
    t.finished_at,
    round((extract(epoch from (t.finished_at - t.started_at)))::numeric, 3),
    coalesce((select sum((e ->> 'inserted')::bigint) from jsonb_array_elements(t.relations) as e), 0)::bigint,
    (t.status in ('failed', 'abandoned') or (t.status = 'running' and t.lease_expires_at < now()))::int::bigint,
    t.error
from ops.transform_runs as t
union all
select
    'quality',
    'checks:' || array_to_string(q.layers, '+'),
    q.run_id::text,
    q.interval,
    case when q.status = 'running' and q.lease_expires_at < now() then 'abandoned' else q.status end,
    q.started_at,
    q.finished_at,
    round((extract(epoch from (q.finished_at - q.started_at)))::numeric, 3),
    q.checks_total::bigint,
    q.checks_failed::bigint,
    q.error
from ops.quality_check_runs as q;

-- failures_24h now counts abandoned runs too (a run that died failed); abandoned_24h says how many
-- of them were abandoned. New columns go at the end (BI contract).
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

-- Down Migration
-- The views of 0002/0003 again (v_pipeline_health is dropped first: it lost a column).
drop view if exists gold.v_pipeline_health;
create or replace view gold.v_pipeline_runs as
select
    'ingestion'::text as kind,
    'ingest:' || r.source as component,
    r.run_id,
    r.interval,
    r.status,
    r.started_at,
    r.finished_at,
    round((extract(epoch from (r.finished_at - r.started_at)))::numeric, 3) as duration_s,
    r.observations_loaded::bigint as rows_written,
    r.sites_failed::bigint as problems,
    r.error
from ops.ingestion_runs as r
union all
select
    'transform',
    'transform:' || t.layer,
    t.run_id::text,
    t.interval,
    t.status,
    t.started_at,
    t.finished_at,
    round((extract(epoch from (t.finished_at - t.started_at)))::numeric, 3),
    coalesce((select sum((e ->> 'inserted')::bigint) from jsonb_array_elements(t.relations) as e), 0)::bigint,
    (t.status = 'failed')::int::bigint,
    t.error
from ops.transform_runs as t
union all
select
    'quality',
    'checks:' || array_to_string(q.layers, '+'),
    q.run_id::text,
    q.interval,
    q.status,
    q.started_at,
    q.finished_at,
    round((extract(epoch from (q.finished_at - q.started_at)))::numeric, 3),
    q.checks_total::bigint,
    q.checks_failed::bigint,
    null
from ops.quality_check_runs as q;
create view gold.v_pipeline_health as
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

drop index if exists ops.workflow_executions_running_idx;
drop index if exists ops.quality_check_runs_running_idx;
drop index if exists ops.transform_runs_running_idx;
drop index if exists ops.ingestion_runs_running_idx;

-- Abandoned rows become failed: the old constraints do not know that status.
update ops.ingestion_runs set status = 'failed' where status = 'abandoned';
update ops.transform_runs set status = 'failed' where status = 'abandoned';
update ops.workflow_executions set status = 'failed' where status = 'abandoned';
delete from ops.quality_check_runs where status in ('running', 'abandoned');
alter table ops.quality_check_runs
    drop constraint quality_check_runs_status_check,
    add constraint quality_check_runs_status_check check (status in ('passed', 'failed')),
    alter column finished_at set not null;
alter table ops.workflow_executions
    drop constraint workflow_executions_status_check,
    add constraint workflow_executions_status_check check (status in ('running', 'succeeded', 'failed'));
alter table ops.transform_runs
    drop constraint transform_runs_status_check,
    add constraint transform_runs_status_check check (status in ('running', 'succeeded', 'failed'));
alter table ops.ingestion_runs
    drop constraint ingestion_runs_status_check,
    add constraint ingestion_runs_status_check check (status in ('running', 'succeeded', 'failed'));

alter table ops.workflow_executions drop column lease_expires_at;
alter table ops.quality_check_runs drop column lease_expires_at, drop column error;
alter table ops.transform_runs drop column lease_expires_at;
alter table ops.ingestion_runs drop column lease_expires_at;
