-- Up Migration
-- Bronze keeps every observation as landed (canonical units, plus the provider's own payload);
-- ops records what each ingestion run did, per site, and what was quarantined.
create schema if not exists bronze;
create schema if not exists ops;

create table bronze.weather_observations (
    site_id text not null,
    source text not null,
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
    condition_code text,
    condition_system text,
    ingestion_run_id text not null,
    ingested_at timestamptz not null,
    raw_object_key text not null,
    payload jsonb not null,
    -- The natural key: one row per site, source and observation time. Upserts and replays hit it.
    constraint weather_observations_pkey primary key (site_id, source, observed_at)
);
-- Incremental transforms select the hours a run touched by observation time (the run-id index is
-- added with the transforms). Every index here slows the upsert, so keep only those that are used.
create index weather_observations_observed_at_idx on bronze.weather_observations (observed_at);

create table bronze.quarantine (
    quarantine_id bigint generated always as identity primary key,
    source text not null,
    interval text not null,
    site_id text not null default '',
    raw_object_key text not null,
    reason text not null,
    payload jsonb,
    ingestion_run_id text not null,
    quarantined_at timestamptz not null,
    constraint quarantine_natural_key unique (raw_object_key, site_id)
);

create table ops.ingestion_runs (
    run_id text primary key,
    source text not null,
    interval text not null,
    attempt integer not null default 1,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null check (status in ('running', 'succeeded', 'failed')),
    sites_total integer not null default 0,
    sites_ok integer not null default 0,
    sites_failed integer not null default 0,
    sites_quarantined integer not null default 0,
    observations_loaded integer not null default 0,
    fetch_latency_p50_ms double precision,
    fetch_latency_p95_ms double precision,
    raw_object_keys text[] not null default '{}',
    error text
);
create index ingestion_runs_interval_idx on ops.ingestion_runs (interval);

create table ops.ingestion_site_results (
    run_id text not null references ops.ingestion_runs (run_id) on delete cascade,
    site_id text not null,
    status text not null check (status in ('ok', 'failed', 'quarantined')),
    reason text,
    raw_object_key text,
    primary key (run_id, site_id)
);

-- Down Migration
drop table if exists ops.ingestion_site_results;
drop table if exists ops.ingestion_runs;
drop table if exists bronze.quarantine;
drop table if exists bronze.weather_observations;
