-- Up Migration
-- Raw is append-only: every fetch attempt lands under its own key, so a quarantine row names exactly
-- the object it came from and its natural key (raw_object_key, site_id) is the primary key. The
-- surrogate identity went: its values depended on the order concurrent batches finished, so a
-- replay could never rebuild the table identically.
-- Quarantine keeps a bounded excerpt of the offending payload, never the whole body per site: the
-- raw object (raw_object_key) holds the body once.
alter table bronze.quarantine drop constraint quarantine_pkey;
alter table bronze.quarantine drop column quarantine_id;
alter table bronze.quarantine drop constraint quarantine_natural_key;
alter table bronze.quarantine add constraint quarantine_pkey primary key (raw_object_key, site_id);
alter table bronze.quarantine alter column payload type text using left(payload::text, 2048);
alter table bronze.quarantine rename column payload to excerpt;

-- One current outcome per site and hour: ops.ingestion_site_results holds the latest outcome of each
-- (source, hour) run; a quarantine entry is current while it is that outcome. Entries a later attempt
-- superseded stay in bronze.quarantine as history.
create view bronze.current_quarantine as
select q.*
from bronze.quarantine as q
inner join ops.ingestion_site_results as r
    on r.run_id = q.ingestion_run_id
    and r.site_id = q.site_id
    and r.status = 'quarantined'
    and r.raw_object_key = q.raw_object_key;

-- Down Migration
drop view if exists bronze.current_quarantine;
alter table bronze.quarantine rename column excerpt to payload;
alter table bronze.quarantine alter column payload type jsonb using to_jsonb(payload);
alter table bronze.quarantine drop constraint quarantine_pkey;
alter table bronze.quarantine add constraint quarantine_natural_key unique (raw_object_key, site_id);
alter table bronze.quarantine add column quarantine_id bigint generated always as identity primary key;
