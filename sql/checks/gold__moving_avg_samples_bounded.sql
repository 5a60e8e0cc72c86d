-- Invariant: 0 <= samples_24h <= 24, samples_24h <= samples_7d <= 168, and an average exists
-- exactly when it has samples.
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select m.site_id, m.hour, m.samples_24h, m.samples_7d, m.temp_ma_24h_c, m.temp_ma_7d_c
    from gold_internal.site_temperature_moving_avg as m, params as p
    where m.hour >= p.window_start and m.hour < p.window_end
        and (m.samples_24h not between 0 and 24
            or m.samples_7d not between m.samples_24h and 168
            or (m.samples_24h > 0) <> (m.temp_ma_24h_c is not null)
            or (m.samples_7d > 0) <> (m.temp_ma_7d_c is not null))
)

select * from final
