-- Freshness: the newest gold observation is younger than 2 hours at the reference time wdo.now.
with

params as (
    select current_setting('wdo.now')::timestamptz as now
),

latest as (
    select max(observed_at) as latest_observed_at
    from gold_internal.site_latest_conditions
),

final as (
    select
        l.latest_observed_at,
        p.now,
        round((extract(epoch from (p.now - l.latest_observed_at)) / 60)::numeric, 1) as age_minutes
    from latest as l, params as p
    where l.latest_observed_at is null or l.latest_observed_at < p.now - interval '2 hours'
)

select * from final
