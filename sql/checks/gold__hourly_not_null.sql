-- Keys and counts of gold_internal.site_hourly are never null.
with

params as (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

final as (
    select h.site_id, h.hour
    from gold_internal.site_hourly as h, params as p
    where h.hour >= p.window_start and h.hour < p.window_end
        and (h.site_id is null or h.hour is null or h.observed_at is null
            or h.source_count is null or h.sources is null)
)

select * from final
