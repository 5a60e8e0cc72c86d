-- gold_internal.site_daily holds at most one row per (site_id, day).
with

params as (
    select
        (current_setting('wdo.window_start')::timestamptz at time zone 'UTC')::date as first_day,
        ((current_setting('wdo.window_end')::timestamptz - interval '1 microsecond') at time zone 'UTC')::date
            as last_day
),

final as (
    select d.site_id, d.day, count(*) as copies
    from gold_internal.site_daily as d, params as p
    where d.day between p.first_day and p.last_day
    group by d.site_id, d.day
    having count(*) > 1
)

select * from final
