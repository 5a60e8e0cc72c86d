-- Invariant: an hourly row's latest observation lies in its hour, and it has at least one source.
with

params as (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

final as (
    select h.site_id, h.hour, h.observed_at, h.source_count
    from gold_internal.site_hourly as h, params as p
    where h.hour >= p.window_start and h.hour < p.window_end
        and (h.observed_at < h.hour or h.observed_at >= h.hour + interval '1 hour' or h.source_count < 1)
)

select * from final
