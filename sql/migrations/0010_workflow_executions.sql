-- Up Migration
-- The embedded workflow engine's ledger: one row per execution (named by interval, so a duplicate
-- trigger is a no-op) and the failure notifications its NotifyFailure state sends.
create table ops.workflow_executions (
    execution_name text primary key,
    interval text not null,
    status text not null check (status in ('running', 'succeeded', 'failed')),
    attempt integer not null default 1,
    started_at timestamptz not null,
    finished_at timestamptz,
    failed_state text,
    error text,
    cause text,
    -- The engine's event log (state entered/exited/retried/caught), for `weather lineage` and debugging.
    events jsonb not null default '[]'
);
create index workflow_executions_interval_idx on ops.workflow_executions (interval);

create table ops.notifications (
    notification_id bigint generated always as identity primary key,
    execution_name text not null,
    interval text not null,
    subject text not null,
    message jsonb not null,
    sent_at timestamptz not null default now()
);

-- Down Migration
drop table if exists ops.notifications;
drop table if exists ops.workflow_executions;
