-- Keys of the latest conditions are never null.
with

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select site_id, hour
    from gold_internal.site_latest_conditions
    where site_id is null or hour is null or observed_at is null or sources is null
)

select * from final
