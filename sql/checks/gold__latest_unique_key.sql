-- gold_internal.site_latest_conditions holds at most one row per site.
with

final as (
    select site_id, count(*) as copies
    from gold_internal.site_latest_conditions
    group by site_id
    having count(*) > 1
)

select * from final
