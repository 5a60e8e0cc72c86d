-- Up Migration
-- superset_reader: the BI role. It sees the gold views and nothing else; the views read
-- gold_internal and silver.sites with their owner's privileges, so no grant below them is needed.
-- Roles are cluster-wide while migrations run per database: create it only when absent, and tolerate
-- a concurrent migration of another database on the same server creating it first.
-- NOLOGIN here: no password is ever committed. A deployment enables it with
--   alter role superset_reader login password '...';
do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'superset_reader') then
        create role superset_reader nologin;
    end if;
exception
    when duplicate_object or unique_violation then null;
end
$$;

-- A BI session never writes; if a grant ever slips, the session still refuses to (login sessions only).
alter role superset_reader set default_transaction_read_only = on;

grant usage on schema gold to superset_reader;
grant select on all tables in schema gold to superset_reader;
-- Views added to gold later by this migrating role are readable without another migration.
alter default privileges in schema gold grant select on tables to superset_reader;

-- Down Migration
alter default privileges in schema gold revoke select on tables from superset_reader;
revoke select on all tables in schema gold from superset_reader;
revoke usage on schema gold from superset_reader;
-- The role itself stays: other databases on the same server may still grant to it.
