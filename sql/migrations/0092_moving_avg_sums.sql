-- Up Migration
-- The 7-day moving average of an hourly run's new hour from the previous hour's row (issue 16, item 3;
-- docs/decisions.md, "The incremental transform reads its scope, not the history"): each row keeps the
-- sums its means divide, in integer milli-degrees (exact: at most 168 × 90,000 in magnitude), so the
-- next hour adds its own temperature and takes off the hour that leaves each window instead of reading
-- 168 hours. Null: written before this migration (the model then reads the window; the next run of
-- that hour fills them). Not back-filled here: that would rewrite every row of the table at deploy.
alter table gold_internal.site_temperature_moving_avg
add column temp_sum_24h_mc bigint,
add column temp_sum_7d_mc bigint;
