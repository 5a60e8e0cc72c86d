-- Up Migration
-- Change markers: the transaction id that last inserted or really changed a bronze row (the upsert
-- sets it on insert and on a changed payload). Rows existing before this migration get 0: they were
-- transformed by the runs that scoped them (a constant default also avoids rewriting the table).
-- A transform scopes the rows whose marker its layer's watermark does not cover: the snapshot the
-- previous successful transform took before reading its scope. A row is covered when its
-- transaction is visible in that snapshot (so it was read then); the index narrows the search to
-- change_xid >= the snapshot's xmin. Unlike ingested_at (the raw envelope's fetchedAt, repeated by
-- a replay) or a sequence (values commit out of order), no committed row can slip past a watermark.
alter table bronze.weather_observations add column change_xid xid8 not null default '0';
alter table bronze.weather_observations alter column change_xid set default pg_current_xact_id();
create index weather_observations_change_xid_idx on bronze.weather_observations (change_xid);

-- Silver's changes are read from its run records: the transaction that committed a succeeded run
-- (its affected_hours, or everything for a full run). Silver rows themselves carry no marker, so a
-- rerun that recomputes identical rows leaves them identical.
alter table ops.transform_runs add column change_xid xid8;
create index transform_runs_change_xid_idx on ops.transform_runs (layer, change_xid)
where status = 'succeeded';

-- One row per layer, advanced in the transaction that writes the layer's rows.
create table ops.transform_watermarks (
    layer text primary key check (layer in ('silver', 'gold')),
    -- Rows below whose change_xid is not visible in this snapshot are not transformed yet.
    watermark pg_snapshot not null,
    transform_run_id bigint,
    updated_at timestamptz not null
);
-- Rows from before this migration carry 0 and count as transformed (0 is below xmin 1); rows
-- ingested from now on carry real transaction ids (>= 3).
insert into ops.transform_watermarks (layer, watermark, updated_at)
values ('silver', '1:1:', now()), ('gold', '1:1:', now());

-- Down Migration
drop table ops.transform_watermarks;
drop index ops.transform_runs_change_xid_idx;
alter table ops.transform_runs drop column change_xid;
drop index bronze.weather_observations_change_xid_idx;
alter table bronze.weather_observations drop column change_xid;
