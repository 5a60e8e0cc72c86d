-- Up Migration
-- One database role per function, so a function can do what its job needs and nothing else
-- (docs/decisions.md, "Least privilege in the database"):
--   weather_ingest     lands observations: bronze rows and quarantine, the ingestion ledger, the site
--                      dimension it maintains (silver.sites); reads its own ledger (quota usage).
--   weather_transform  reads bronze and the ingestion ledger, rewrites silver and gold, its run ledger
--                      and watermarks.
--   weather_checks     reads every layer, writes check runs and results only.
--   weather_heal       the daily heal lands history, transforms the range and checks it: the three above.
--   superset_reader    the gold views only (0020).
-- The migration owner (whoever runs `weather migrate`) keeps owning everything.
-- Roles are cluster-wide while migrations run per database: create each only when absent, and
-- tolerate a concurrent migration of another database creating it first (as 0020 does).
-- NOLOGIN: no password is ever committed. A deployment enables each role it uses with
--   alter role weather_ingest login password '...';   (docs/deploy-aws.md, "Database roles")
do $$
declare
    r text;
begin
    foreach r in array array['weather_ingest', 'weather_transform', 'weather_checks', 'weather_heal'] loop
        begin
            if not exists (select from pg_catalog.pg_roles where rolname = r) then
                execute format('create role %I nologin', r);
            end if;
        exception
            when duplicate_object or unique_violation then null;
        end;
    end loop;
end
$$;

-- Every role reads the schemas it touches; none may create objects in them (only the owner migrates).
grant usage on schema bronze, ops, silver to weather_ingest;
grant usage on schema bronze, ops, silver, gold_internal to weather_transform;
grant usage on schema bronze, ops, silver, gold_internal, gold to weather_checks;

-- Every process first asks whether migrations or views are pending (core/db/migrate.ts): that much of
-- the migration ledger is readable; applying them stays the owner's. (migrate.ts creates
-- ops.view_versions after the migrations too; created here first so it can be granted.)
create table if not exists ops.view_versions (
    name text primary key,
    hash text not null,
    applied_at timestamptz not null default now()
);
grant select on ops.schema_migrations, ops.view_versions to weather_ingest, weather_transform, weather_checks;

-- weather_ingest: upserts (insert + update), never deletes; the ledger it leases and finishes.
grant select, insert, update on bronze.weather_observations, bronze.quarantine to weather_ingest;
grant select on bronze.current_quarantine to weather_ingest;
grant select, insert, update on ops.ingestion_runs, ops.ingestion_site_results to weather_ingest;
grant select, insert, update on silver.sites to weather_ingest;

-- weather_transform: a layer's scope is deleted and inserted again, inside one transaction.
grant select on bronze.weather_observations, bronze.quarantine, bronze.current_quarantine to weather_transform;
grant select on ops.ingestion_runs, ops.ingestion_site_results to weather_transform;
grant select, insert, update, delete on silver.observations to weather_transform;
grant select on silver.sites to weather_transform;
grant select, insert, update, delete on all tables in schema gold_internal to weather_transform;
grant select, insert, update on ops.transform_runs, ops.transform_watermarks to weather_transform;

-- weather_checks: reads everything the checks compare, writes only its own run and results.
grant select on all tables in schema bronze, silver, gold_internal, gold to weather_checks;
grant select on ops.ingestion_runs, ops.transform_runs, ops.transform_watermarks to weather_checks;
grant select, insert, update on ops.quality_check_runs, ops.quality_check_results to weather_checks;

-- Membership is cluster-wide too: granted once, by whichever database migrates first.
do $$
declare
    r text;
begin
    foreach r in array array['weather_ingest', 'weather_transform', 'weather_checks'] loop
        if not pg_has_role('weather_heal', r, 'member') then
            begin
                execute format('grant %I to weather_heal', r);
            exception
                when duplicate_object or unique_violation then null;
            end;
        end if;
    end loop;
end
$$;

-- Tables the owner adds later keep these grants without another migration: a new gold table is the
-- transform's to write and the checks' to read; a new bronze or silver table is read by the checks.
alter default privileges in schema gold_internal
    grant select, insert, update, delete on tables to weather_transform;
alter default privileges in schema bronze, silver, gold_internal, gold
    grant select on tables to weather_checks;

-- Down Migration
alter default privileges in schema bronze, silver, gold_internal, gold
    revoke select on tables from weather_checks;
alter default privileges in schema gold_internal
    revoke select, insert, update, delete on tables from weather_transform;
revoke weather_ingest from weather_heal;
revoke weather_transform from weather_heal;
revoke weather_checks from weather_heal;
revoke all on all tables in schema bronze, silver, gold_internal, gold, ops
    from weather_ingest, weather_transform, weather_checks;
revoke usage on schema bronze, ops, silver, gold_internal, gold
    from weather_ingest, weather_transform, weather_checks;
-- The roles themselves stay: other databases on the same server may still grant to them.
