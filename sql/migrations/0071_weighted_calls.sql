-- Up Migration
-- Weighted calls per ingestion run (providers/limits.ts): what the provider bills, retries included,
-- summed over the run's attempts. A new run's limiter reads back the last day's runs of its source,
-- so Lambdas and CLI runs sharing this database keep to the minute, hour and day quotas together.
alter table ops.ingestion_runs add column weighted_calls double precision not null default 0;
-- The read: runs of one source that finished in the last day and made calls.
create index ingestion_runs_weighted_calls_idx on ops.ingestion_runs (source, finished_at)
where weighted_calls > 0;

-- Down Migration
drop index if exists ops.ingestion_runs_weighted_calls_idx;
alter table ops.ingestion_runs drop column weighted_calls;
