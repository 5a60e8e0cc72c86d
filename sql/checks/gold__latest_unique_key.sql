-- gold_internal.site_latest_conditions holds at most one row per site.
with

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select site_id, count(*) as copies
    from gold_internal.site_latest_conditions
    group by site_id
    having count(*) > 1
)

select * from final
