-- silver.observations (sql/models/silver/observations.sql) as a dbt incremental model: the same CTEs
-- from `typed` on; the runner's scope (pg_temp.scope_silver) becomes the interval's bronze rows. The
-- window is hour-aligned, so it holds every bronze row of each (site, source, hour) it touches.
{{ config(
    unique_key=['site_id', 'source', 'hour'],
    indexes=[
        {'columns': ['site_id', 'hour', 'source'], 'unique': True},
        {'columns': ['hour']},
    ],
) }}

with

bronze_observations as (
    select *
    from {{ source('bronze', 'weather_observations') }}
    {% if is_incremental() %}
    where observed_at >= '{{ var("interval_start") }}'::timestamptz
        and observed_at < '{{ var("interval_end") }}'::timestamptz
    {% endif %}
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
