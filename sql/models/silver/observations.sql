-- silver.observations: one typed, deduplicated observation per (site_id, source, UTC hour).
-- Scope: the runner fills pg_temp.scope_silver with hour-aligned ranges per (site_id, source) and
-- deletes the same ranges from the target first (core/sql/runner.ts).
-- Precedence (docs/decisions.md): within a (site, source, hour) the kept row is the one of the best
-- kind, `current` (a live reading) > `archive` (reanalysis) > `forecast` (the forecast API's past
-- hours); then the latest observed_at; then the latest ingested_at. Bronze's key is (site_id, source,
-- observed_at, kind), so there are no ties, and (site_id, source, observed_at, kind) names the
-- bronze row kept. A history row never replaces a live one, and a later archive row replaces a
-- forecast; rows of a worse kind leave the kept row, and so gold, unchanged.
-- observations_in_hour counts the bronze rows of the kept kind in the hour (for live data: the
-- readings the latest one was chosen from, as before kinds existed).
-- Plausibility: a row with any physically implausible value keeps its values, is flagged
-- is_plausible = false with every reason listed, and gold ignores it.
with

scope as (
    -- In key order: see bronze_observations.
    select site_id, source, range_start, range_end
    from pg_temp.scope_silver
    order by site_id, source
),

bronze_observations as (
    -- lateral + offset 0 (a fence the planner cannot flatten): an index range scan per scope row
    -- whatever the estimates say, so cost follows the scope and never the length of the history.
    -- The keys come from the scope, read in key order: the planner then knows the rows arrive by
    -- (site_id, source) and sorts each site's rows for the window below (incremental sort), not all
    -- rows at once (b.site_id would hide that order behind the fence): a full run's sort no longer
    -- spills 8.76 M rows to disk (a year of 1,000 sites, one run each at load 2-3: insert 118 -> 87 s).
    select
        s.site_id,
        s.source,
        b.observed_at,
        b.kind,
        b.temperature_c,
        b.feels_like_c,
        b.humidity_pct,
        b.pressure_hpa,
        b.wind_speed_ms,
        b.wind_gust_ms,
        b.wind_direction_deg,
        b.cloud_cover_pct,
        b.precipitation_mm,
        b.precipitation_window_minutes,
        b.condition_code,
        b.condition_system,
        b.ingestion_run_id,
        b.raw_object_key,
        b.ingested_at
    from scope as s
    cross join lateral (
        select *
        from bronze.weather_observations
        where site_id = s.site_id
            and source = s.source
            and observed_at >= s.range_start
            and observed_at < s.range_end
        offset 0
    ) as b
),

typed as (
    select
        site_id,
        source,
        date_trunc('hour', observed_at, 'UTC') as hour,
        observed_at,
        kind,
        case kind when 'current' then 1 when 'archive' then 2 when 'forecast' then 3 end as kind_rank,
        temperature_c::double precision as temperature_c,
        feels_like_c::double precision as feels_like_c,
        humidity_pct::double precision as humidity_pct,
        pressure_hpa::double precision as pressure_hpa,
        wind_speed_ms::double precision as wind_speed_ms,
        wind_gust_ms::double precision as wind_gust_ms,
        wind_direction_deg::double precision as wind_direction_deg,
        cloud_cover_pct::double precision as cloud_cover_pct,
        precipitation_mm::double precision as precipitation_mm,
        precipitation_window_minutes::integer as precipitation_window_minutes,
        condition_code,
        condition_system,
        ingestion_run_id,
        raw_object_key,
        ingested_at
    from bronze_observations
),

ranked as (
    select
        *,
        row_number() over best_first as rank_in_hour,
        -- kind_rank (one per kind) rather than kind: the partition is a prefix of best_first, so one
        -- sort serves both windows.
        count(*) over (partition by site_id, source, hour, kind_rank) as observations_in_hour
    from typed
    window best_first as (
        partition by site_id, source, hour
        order by kind_rank, observed_at desc, ingested_at desc
    )
),

deduped as (
    select * from ranked where rank_in_hour = 1
),

converted as (
    -- Providers report precipitation over different windows (Open-Meteo current: 15 min, OWM: 60);
    -- a rate per hour makes them comparable. A missing window means the value covers the hour.
    select
        *,
        precipitation_mm * 60.0 / coalesce(nullif(precipitation_window_minutes, 0), 60)
            as precipitation_mm_per_hour
    from deduped
),

flagged as (
    select
        *,
        concat_ws(
            '; ',
            case when not temperature_c between -90 and 60
                then 'temperature_c ' || temperature_c || ' outside -90..60' end,
            case when not feels_like_c between -90 and 60
                then 'feels_like_c ' || feels_like_c || ' outside -90..60' end,
            case when not humidity_pct between 0 and 100
                then 'humidity_pct ' || humidity_pct || ' outside 0..100' end,
            case when not pressure_hpa between 870 and 1085
                then 'pressure_hpa ' || pressure_hpa || ' outside 870..1085' end,
            case when wind_speed_ms < 0
                then 'wind_speed_ms ' || wind_speed_ms || ' negative' end,
            case when wind_gust_ms < 0
                then 'wind_gust_ms ' || wind_gust_ms || ' negative' end,
            case when not wind_direction_deg between 0 and 360
                then 'wind_direction_deg ' || wind_direction_deg || ' outside 0..360' end,
            case when not cloud_cover_pct between 0 and 100
                then 'cloud_cover_pct ' || cloud_cover_pct || ' outside 0..100' end,
            case when precipitation_mm < 0
                then 'precipitation_mm ' || precipitation_mm || ' negative' end
        ) as reasons
    from converted
),

final as (
    select
        site_id,
        source,
        hour,
        observed_at,
        kind,
        temperature_c,
        feels_like_c,
        humidity_pct,
        pressure_hpa,
        wind_speed_ms,
        wind_gust_ms,
        wind_direction_deg,
        cloud_cover_pct,
        precipitation_mm,
        precipitation_window_minutes,
        precipitation_mm_per_hour,
        condition_code,
        condition_system,
        observations_in_hour::integer as observations_in_hour,
        reasons = '' as is_plausible,
        nullif(reasons, '') as implausible_reason,
        ingestion_run_id,
        raw_object_key,
        ingested_at
    from flagged
)

select * from final
