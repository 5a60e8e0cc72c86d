-- A row is flagged implausible exactly when it has a reason, and plausible rows are in range.
with

-- not materialized: inlined where used, so the window bounds reach the planner as constants (a CTE
-- used twice is materialized by default, hiding them: estimates of a third of the table, full scans).
params as not materialized (
    select
        current_setting('wdo.window_start')::timestamptz as window_start,
        current_setting('wdo.window_end')::timestamptz as window_end
),

silver_observations as (
    select o.*
    from silver.observations as o, params as p
    where o.hour >= p.window_start and o.hour < p.window_end
),

-- materialized: planned for all its rows; otherwise the runner's outer `limit 1000` favours a
-- plan that streams in key order, i.e. a full scan of the primary key over the whole history.
final as materialized (
    select site_id, source, hour, is_plausible, implausible_reason, temperature_c, humidity_pct,
        pressure_hpa, wind_speed_ms, wind_gust_ms, precipitation_mm
    from silver_observations
    where is_plausible <> (implausible_reason is null)
        or (is_plausible and (
            temperature_c not between -90 and 60
            or humidity_pct not between 0 and 100
            or pressure_hpa not between 870 and 1085
            or wind_speed_ms < 0
            or wind_gust_ms < 0
            or precipitation_mm < 0
        ))
)

select * from final
