-- Up Migration
-- Bronze by month (issue 16, item 2; docs/decisions.md, "Bronze monthly partitions"): a table that
-- gains every site every hour for years is range-partitioned on observed_at, one partition per UTC
-- month (bronze.weather_observations_yYYYYmMM), so `weather archive` detaches and drops a whole month
-- without touching the others, and reads bounded in time skip whole months.
-- Postgres cannot partition a table in place: the rows move to a partitioned twin of the same name,
-- columns, defaults, checks, key, index names and grants. change_xid moves with them, so the
-- transform watermarks (0060) see exactly the rows they saw before. The move holds an exclusive lock
-- on bronze while it copies (run `weather migrate` between two hours on a large bronze).

-- Partitions are made by this function alone: by the owner here, and by whoever writes bronze (the
-- repository calls it before every write for the months it writes and the month after them, so the
-- hourly ingest makes next month's partition a month ahead), without granting any writer CREATE.
-- A new month is created as a table of its own and then attached: attaching takes a SHARE UPDATE
-- EXCLUSIVE lock on bronze, which waits for no reader or writer (creating it as a partition would
-- take an ACCESS EXCLUSIVE one and queue every reader behind a long transform). Idempotent; two
-- sessions racing for one month are fine. A month that exists costs one catalog lookup and no lock.
create function bronze.ensure_observation_partitions(from_ts timestamptz, to_ts timestamptz)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    month timestamptz := date_trunc('month', from_ts, 'UTC');
    last timestamptz := date_trunc('month', to_ts, 'UTC');
    name text;
    created integer := 0;
begin
    if from_ts is null or to_ts is null or to_ts < from_ts then
        raise exception 'ensure_observation_partitions: need from_ts <= to_ts, got % and %', from_ts, to_ts;
    end if;
    while month <= last loop
        name := 'weather_observations_' || to_char(month at time zone 'UTC', '"y"YYYY"m"MM');
        if to_regclass(format('bronze.%I', name)) is null then
            begin
                execute format(
                    'create table bronze.%I (like bronze.weather_observations including defaults including constraints including storage)',
                    name
                );
                execute format(
                    'alter table bronze.weather_observations attach partition bronze.%I for values from (%L) to (%L)',
                    name, month, month + interval '1 month'
                );
                created := created + 1;
            exception
                when duplicate_table or unique_violation then null; -- another session made it first
            end;
        end if;
        month := month + interval '1 month';
    end loop;
    return created;
end
$$;
revoke all on function bronze.ensure_observation_partitions(timestamptz, timestamptz) from public;

-- The one view reading bronze depends on the old table: dropped here, recreated below as
-- sql/views/v_data_freshness.sql defines it, with its grants.
drop view gold.v_data_freshness;

alter table bronze.weather_observations rename to weather_observations_unpartitioned;
alter table bronze.weather_observations_unpartitioned
    rename constraint weather_observations_pkey to weather_observations_unpartitioned_pkey;
alter index bronze.weather_observations_observed_at_idx
    rename to weather_observations_unpartitioned_observed_at_idx;
alter index bronze.weather_observations_ingestion_run_idx
    rename to weather_observations_unpartitioned_ingestion_run_idx;
alter index bronze.weather_observations_change_xid_idx
    rename to weather_observations_unpartitioned_change_xid_idx;

create table bronze.weather_observations (
    like bronze.weather_observations_unpartitioned including defaults including constraints including storage
) partition by range (observed_at);
alter table bronze.weather_observations
    add constraint weather_observations_pkey primary key (site_id, source, observed_at, kind);
create index weather_observations_observed_at_idx on bronze.weather_observations (observed_at);
create index weather_observations_ingestion_run_idx on bronze.weather_observations (ingestion_run_id);
create index weather_observations_change_xid_idx on bronze.weather_observations (change_xid);

-- Every month from the first row's to the month after the current one (or after the last row's),
-- then the rows themselves.
select bronze.ensure_observation_partitions(
    least(coalesce((select min(observed_at) from bronze.weather_observations_unpartitioned), now()), now()),
    greatest(coalesce((select max(observed_at) from bronze.weather_observations_unpartitioned), now()), now())
    + interval '1 month'
);
insert into bronze.weather_observations select * from bronze.weather_observations_unpartitioned;
drop table bronze.weather_observations_unpartitioned;

-- The grants 0080 gave on the old table (weather_checks' select also follows bronze's default
-- privileges); writers make the partitions they write into through the function only.
grant select, insert, update on bronze.weather_observations to weather_ingest;
grant select on bronze.weather_observations to weather_transform, weather_checks;
grant execute on function bronze.ensure_observation_partitions(timestamptz, timestamptz) to weather_ingest;

create view gold.v_data_freshness as
with latest as (
    select
        'bronze'::text as layer,
        (select max(observed_at) from bronze.weather_observations) as latest_observed_at
    union all
    select
        'silver',
        (
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
grant select on gold.v_data_freshness to superset_reader, weather_checks;

-- Down Migration
drop view gold.v_data_freshness;
create table bronze.weather_observations_unpartitioned (
    like bronze.weather_observations including defaults including constraints including storage
);
insert into bronze.weather_observations_unpartitioned select * from bronze.weather_observations;
drop table bronze.weather_observations;
drop function bronze.ensure_observation_partitions(timestamptz, timestamptz);
alter table bronze.weather_observations_unpartitioned rename to weather_observations;
alter table bronze.weather_observations
    add constraint weather_observations_pkey primary key (site_id, source, observed_at, kind);
create index weather_observations_observed_at_idx on bronze.weather_observations (observed_at);
create index weather_observations_ingestion_run_idx on bronze.weather_observations (ingestion_run_id);
create index weather_observations_change_xid_idx on bronze.weather_observations (change_xid);
grant select, insert, update on bronze.weather_observations to weather_ingest;
grant select on bronze.weather_observations to weather_transform, weather_checks;
create view gold.v_data_freshness as
with latest as (
    select
        'bronze'::text as layer,
        (select max(observed_at) from bronze.weather_observations) as latest_observed_at
    union all
    select
        'silver',
        (
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
grant select on gold.v_data_freshness to superset_reader, weather_checks;
