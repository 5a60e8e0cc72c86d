-- Up Migration
-- Provenance (issue 12): what kind of value a bronze row is. `current`: conditions at fetch time
-- (hourly ingestion); `forecast`: a past hour from the forecast API (the model's analysis, about the
-- last 92 days); `archive`: the Historical Weather API (reanalysis, 1940 to about five days ago). A
-- column, not a source label, so a site's hours stay one series per source (docs/decisions.md).
-- Every existing row is a live observation, hence the default; a constant default adds the column
-- without rewriting the table (the check still reads it once).
alter table bronze.weather_observations
    add column kind text not null default 'current',
    add constraint weather_observations_kind_check check (kind in ('current', 'forecast', 'archive'));

-- A live reading and a history value of the same instant are two rows; kind last, so range scans by
-- site, source and time keep using the key. The rebuild holds an exclusive lock on bronze while it
-- reads and sorts the table (measured in docs/decisions.md: run `weather migrate` between two hours).
alter table bronze.weather_observations
    drop constraint weather_observations_pkey,
    add constraint weather_observations_pkey primary key (site_id, source, observed_at, kind);

-- Silver keeps one row per (site, source, hour), chosen by precedence (current > archive >
-- forecast, sql/models/silver/observations.sql); kind names the kept row's kind. Existing rows came
-- from live rows only. The default only fills them: the model always writes kind.
alter table silver.observations
    add column kind text not null default 'current',
    add constraint observations_kind_check check (kind in ('current', 'forecast', 'archive'));
alter table silver.observations alter column kind drop default;

-- Gold combines sources, not kinds: silver already chose one kind per source and hour. kinds lists
-- the distinct kinds behind an hourly row (e.g. `archive,current`), so a dashboard can tell history
-- from live data.
alter table gold_internal.site_hourly add column kinds text not null default 'current';
alter table gold_internal.site_hourly alter column kinds drop default;

-- Bulk transforms (transformRange): one run per layer over a range of hours, recorded as mode
-- 'range' with the range as its window and what started it (a backfill or the daily heal).
alter table ops.transform_runs
    drop constraint transform_runs_mode_check,
    add constraint transform_runs_mode_check check (mode in ('incremental', 'full', 'range')),
    add column trigger text,
    add constraint transform_runs_trigger_check check (trigger in ('backfill', 'heal'));

-- Same columns as sql/views/v_site_hourly.sql, kinds added at the end (BI contract).
create or replace view gold.v_site_hourly as
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
    h.sources,
    h.kinds
from gold_internal.site_hourly as h
left join silver.sites as s on s.site_id = h.site_id;

-- Down Migration
-- The view loses a column: drop and recreate it as 0002 left it (0020's default privileges grant
-- superset_reader select on it again).
drop view gold.v_site_hourly;
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

delete from ops.transform_runs where mode = 'range';
alter table ops.transform_runs
    drop constraint transform_runs_trigger_check,
    drop column trigger,
    drop constraint transform_runs_mode_check,
    add constraint transform_runs_mode_check check (mode in ('incremental', 'full'));
alter table gold_internal.site_hourly drop column kinds;
alter table silver.observations drop column kind;
-- The old key holds one row per instant: keep the row silver's precedence would keep.
delete from bronze.weather_observations as b
using bronze.weather_observations as better
where better.site_id = b.site_id and better.source = b.source and better.observed_at = b.observed_at
    and array_position(array['current', 'archive', 'forecast'], better.kind)
    < array_position(array['current', 'archive', 'forecast'], b.kind);
alter table bronze.weather_observations
    drop constraint weather_observations_pkey,
    add constraint weather_observations_pkey primary key (site_id, source, observed_at);
alter table bronze.weather_observations drop column kind;
