-- gold.v_pipeline_runs: read by analysts and the Superset datasets (superset/bundle/datasets). Applied with
-- `create or replace` after migrations (core/db/migrate.ts); keep columns, add new ones at the end.
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
