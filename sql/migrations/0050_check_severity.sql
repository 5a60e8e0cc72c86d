-- Up Migration
-- Quality checks are declared beside the models (sql/models/<layer>/*.yml) with a severity: 'error'
-- blocks the workflow (QualityCheckFailedError), 'warn' is recorded and counted but never blocks.
-- Results before this migration were all blocking checks, hence the default.
alter table ops.quality_check_results
    add column severity text not null default 'error' check (severity in ('error', 'warn'));
-- checks_failed counts failed 'error' checks (the run's status follows it); checks_warned counts
-- failed 'warn' checks.
alter table ops.quality_check_runs add column checks_warned integer not null default 0;

-- Down Migration
alter table ops.quality_check_runs drop column checks_warned;
alter table ops.quality_check_results drop column severity;
