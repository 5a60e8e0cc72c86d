-- Up Migration
-- Bronze retention (issue 16, item 2; docs/decisions.md, "Bronze retention"): `weather archive` moves a
-- whole UTC month of bronze.weather_observations into Parquet objects in the raw store and records the
-- month here in the transaction that deletes its rows; `weather restore` inserts them back and removes
-- the record in one transaction. A row here means: this month's bronze rows live in the archive, not in
-- the table. Silver and gold keep their rows of the month, so a full rebuild from bronze (which would
-- drop them) is refused while any month is recorded (cli/commands/transform.ts).
create table ops.bronze_archived_months (
    -- The UTC month, `YYYY-MM`, and the half-open range of observed_at it covers.
    month text primary key check (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    range_start timestamptz not null,
    range_end timestamptz not null check (range_end > range_start),
    row_count bigint not null check (row_count > 0),
    -- md5 over the md5 of every row's full text in key order (core/adapters/pg-bronze-archive.ts).
    checksum text not null,
    -- Where the archive lies: the raw store at the time, and its manifest's key there.
    raw_store text not null,
    manifest_key text not null,
    archived_at timestamptz not null default now()
);

-- Down Migration
-- Archived months' objects stay in the raw store; restore each month (`weather restore --month M`)
-- before migrating down, or its record of where they are is lost with this table.
drop table ops.bronze_archived_months;
