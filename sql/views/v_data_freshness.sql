-- gold.v_data_freshness: read by analysts and the Superset datasets (superset/bundle/datasets). Applied with
-- `create or replace` after migrations (core/db/migrate.ts); keep columns, add new ones at the end.
create or replace view gold.v_data_freshness as
with latest as (
    select 'bronze'::text as layer, (select max(observed_at) from bronze.weather_observations) as latest_observed_at
    union all
    select 'silver', (
        select max(observed_at) from silver.observations
        where hour = (select max(hour) from silver.observations)
    )
    union all
    select 'gold', (select max(observed_at) from gold_internal.site_latest_conditions)
)
select
    layer,
    latest_observed_at,
    round((extract(epoch from (now() - latest_observed_at)) / 60)::numeric, 1) as age_minutes,
    coalesce(latest_observed_at >= now() - interval '2 hours', false) as is_fresh
from latest;
