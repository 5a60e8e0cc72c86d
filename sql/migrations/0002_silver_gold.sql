-- Up Migration
-- Silver: one typed, deduplicated, plausibility-flagged observation per (site, source, UTC hour).
-- Gold: aggregates in gold_internal (tables the transform rewrites incrementally) exposed to BI only
-- through the views in schema gold, whose names and columns are a contract (docs/data-model.md).
-- ops: what every transform and quality-check run read, wrote and found (lineage, health).
create schema if not exists silver;
create schema if not exists gold_internal;
create schema if not exists gold;

-- Incremental transforms find the bronze rows an ingestion run loaded by its run id.
create index if not exists weather_observations_ingestion_run_idx
    on bronze.weather_observations (ingestion_run_id);

create table silver.observations (
    site_id text not null,
    source text not null,
    hour timestamptz not null,
    observed_at timestamptz not null,
    temperature_c double precision,
    feels_like_c double precision,
    humidity_pct double precision,
    pressure_hpa double precision,
    wind_speed_ms double precision,
    wind_gust_ms double precision,
    wind_direction_deg double precision,
    cloud_cover_pct double precision,
    precipitation_mm double precision,
    precipitation_window_minutes integer,
    precipitation_mm_per_hour double precision,
    condition_code text,
    condition_system text,
    observations_in_hour integer not null,
    is_plausible boolean not null,
    implausible_reason text,
    ingestion_run_id text not null,
    raw_object_key text not null,
    ingested_at timestamptz not null,
    -- (site, hour, source) rather than (site, source, hour): gold reads all sources of a site's hours.
    constraint observations_pkey primary key (site_id, hour, source)
);
create index observations_hour_idx on silver.observations (hour);

-- The site dimension (from config/sites.json, written by syncSites in core/sql/sites.ts); gold views
-- left-join it, so a missing row only leaves names and coordinates empty.
create table silver.sites (
    site_id text primary key,
    site_name text not null,
    latitude double precision not null,
    longitude double precision not null,
    timezone text not null,
    country text not null
);

create table gold_internal.site_hourly (
    site_id text not null,
    hour timestamptz not null,
    observed_at timestamptz not null,
    temperature_c double precision,
    feels_like_c double precision,
    humidity_pct double precision,
    pressure_hpa double precision,
    wind_speed_ms double precision,
    wind_gust_ms double precision,
    wind_direction_deg double precision,
    cloud_cover_pct double precision,
    precipitation_mm double precision,
    condition_code text,
    condition_system text,
    source_count integer not null,
    sources text not null,
    primary key (site_id, hour)
);
create index site_hourly_hour_idx on gold_internal.site_hourly (hour);

create table gold_internal.site_daily (
    site_id text not null,
    day date not null,
    min_temp_c double precision,
    max_temp_c double precision,
    mean_temp_c double precision,
    precipitation_mm double precision,
    max_gust_ms double precision,
    mean_humidity_pct double precision,
    hours_observed integer not null,
    observation_count integer not null,
    last_observed_at timestamptz not null,
    primary key (site_id, day)
);
create index site_daily_day_idx on gold_internal.site_daily (day);

create table gold_internal.site_temperature_moving_avg (
    site_id text not null,
    hour timestamptz not null,
    temperature_c double precision,
    temp_ma_24h_c double precision,
    temp_ma_7d_c double precision,
    samples_24h integer not null,
    samples_7d integer not null,
    primary key (site_id, hour)
);
create index site_temperature_moving_avg_hour_idx on gold_internal.site_temperature_moving_avg (hour);

create table gold_internal.site_latest_conditions (
    site_id text primary key,
    hour timestamptz not null,
    observed_at timestamptz not null,
    temperature_c double precision,
    feels_like_c double precision,
    humidity_pct double precision,
    pressure_hpa double precision,
    wind_speed_ms double precision,
    wind_gust_ms double precision,
    wind_direction_deg double precision,
    cloud_cover_pct double precision,
    precipitation_mm double precision,
    condition_code text,
    condition_system text,
    temp_ma_24h_c double precision,
    sources text not null
);

create table ops.transform_runs (
    run_id bigint generated always as identity primary key,
    layer text not null check (layer in ('silver', 'gold')),
    interval text not null,
    mode text not null check (mode in ('incremental', 'full')),
    lookback_hours integer not null,
    window_start timestamptz not null,
    window_end timestamptz not null,
    status text not null check (status in ('running', 'succeeded', 'failed')),
    started_at timestamptz not null,
    finished_at timestamptz,
    -- Distinct UTC hours recomputed (incremental runs; a full run leaves it empty).
    affected_hours timestamptz[] not null default '{}',
    affected_keys integer not null default 0,
    source_rows_read integer not null default 0,
    ingestion_run_ids text[] not null default '{}',
    raw_object_keys text[] not null default '{}',
    -- [{"relation": "silver.observations", "deleted": n, "inserted": n}, ...]
    relations jsonb not null default '[]',
    error text
);
create index transform_runs_interval_idx on ops.transform_runs (interval);
create index transform_runs_started_idx on ops.transform_runs (layer, started_at);

create table ops.quality_check_runs (
    run_id bigint generated always as identity primary key,
    interval text not null,
    layers text[] not null,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    now_at timestamptz not null,
    window_start timestamptz not null,
    window_end timestamptz not null,
    status text not null check (status in ('passed', 'failed')),
    checks_total integer not null,
    checks_failed integer not null
);
create index quality_check_runs_interval_idx on ops.quality_check_runs (interval);

create table ops.quality_check_results (
    run_id bigint not null references ops.quality_check_runs (run_id) on delete cascade,
    check_name text not null,
    layer text not null,
    passed boolean not null,
    failing_rows integer not null,
    sample jsonb not null default '[]',
    duration_ms double precision not null,
    primary key (run_id, check_name)
);

-- BI contract: views only; add columns at the end, never rename or drop without a new view name.
create view gold.v_site_hourly as
select
    h.site_id,
    s.site_name,
    s.country,
    h.hour,
    (h.hour at time zone 'UTC')::date as day,
    h.observed_at,
    h.temperature_c,
    h.feels_like_c,
    h.humidity_pct,
    h.pressure_hpa,
    h.wind_speed_ms,
    h.wind_gust_ms,
    h.wind_direction_deg,
    h.cloud_cover_pct,
    h.precipitation_mm,
    h.condition_code,
    h.condition_system,
    h.source_count,
    h.sources
from gold_internal.site_hourly as h
left join silver.sites as s on s.site_id = h.site_id;

create view gold.v_site_daily as
select
    d.site_id,
    s.site_name,
    s.country,
    d.day,
    d.min_temp_c,
    d.max_temp_c,
    d.mean_temp_c,
    d.precipitation_mm,
    d.max_gust_ms,
    d.mean_humidity_pct,
    d.hours_observed,
    d.observation_count,
    d.last_observed_at
from gold_internal.site_daily as d
left join silver.sites as s on s.site_id = d.site_id;

create view gold.v_temperature_moving_avg as
select
    m.site_id,
    s.site_name,
    m.hour,
    m.temperature_c,
    m.temp_ma_24h_c,
    m.temp_ma_7d_c,
    m.samples_24h,
    m.samples_7d
from gold_internal.site_temperature_moving_avg as m
left join silver.sites as s on s.site_id = m.site_id;

create view gold.v_latest_conditions as
select
    l.site_id,
    s.site_name,
    s.country,
    s.latitude,
    s.longitude,
    s.timezone,
    l.hour,
    l.observed_at,
    round((extract(epoch from (now() - l.observed_at)) / 60)::numeric, 1) as age_minutes,
    l.temperature_c,
    l.feels_like_c,
    l.humidity_pct,
    l.pressure_hpa,
    l.wind_speed_ms,
    l.wind_gust_ms,
    l.wind_direction_deg,
    l.cloud_cover_pct,
    l.precipitation_mm,
    l.condition_code,
    l.condition_system,
    l.temp_ma_24h_c,
    l.sources
from gold_internal.site_latest_conditions as l
left join silver.sites as s on s.site_id = l.site_id;

-- One row per pipeline run of any kind, newest first when ordered by started_at desc.
create view gold.v_pipeline_runs as
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

-- One row per component: what ran in the last 24 h, what failed, and when it last succeeded.
create view gold.v_pipeline_health as
with runs as (
    select * from gold.v_pipeline_runs
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

-- Data freshness per layer: the newest observation each layer holds.
create view gold.v_data_freshness as
with latest as (
    select 'bronze'::text as layer, (select max(observed_at) from bronze.weather_observations) as latest_observed_at
    union all
    select 'silver', (
        select max(observed_at) from silver.observations
        where hour = (select max(hour) from silver.observations)
    )
    union all
    select 'gold', (select max(observed_at) from gold_internal.site_latest_conditions)
)
select
    layer,
    latest_observed_at,
    round((extract(epoch from (now() - latest_observed_at)) / 60)::numeric, 1) as age_minutes,
    coalesce(latest_observed_at >= now() - interval '2 hours', false) as is_fresh
from latest;

-- Down Migration
drop view if exists gold.v_data_freshness;
drop view if exists gold.v_pipeline_health;
drop view if exists gold.v_pipeline_runs;
drop view if exists gold.v_latest_conditions;
drop view if exists gold.v_temperature_moving_avg;
drop view if exists gold.v_site_daily;
drop view if exists gold.v_site_hourly;
drop table if exists ops.quality_check_results;
drop table if exists ops.quality_check_runs;
drop table if exists ops.transform_runs;
drop table if exists gold_internal.site_latest_conditions;
drop table if exists gold_internal.site_temperature_moving_avg;
drop table if exists gold_internal.site_daily;
drop table if exists gold_internal.site_hourly;
drop table if exists silver.sites;
drop table if exists silver.observations;
drop index if exists bronze.weather_observations_ingestion_run_idx;
drop schema if exists gold;
drop schema if exists gold_internal;
drop schema if exists silver;
