-- Keys of the latest conditions are never null.
with

final as (
    select site_id, hour
    from gold_internal.site_latest_conditions
    where site_id is null or hour is null or observed_at is null or sources is null
)

select * from final
