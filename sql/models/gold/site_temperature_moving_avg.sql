-- gold_internal.site_temperature_moving_avg: per (site_id, hour) the mean temperature of the
-- trailing 24 hours and 7 days. Windows are time-based (range over the hour), not row-based, so
-- gaps in the data shorten the sample instead of stretching the window.
-- Scope: pg_temp.scope_moving_avg (site_id, range_start, range_end) = the hours whose windows
-- contain a changed hour; the 167 hours before each range are read as window input.
-- Temperatures are summed as integer milli-degrees (sum(bigint): exact, so order-independent, and
-- with an inverse transition a sliding frame costs O(1) a row; sum(float8) has neither). 0.001 °C is
-- below any sensor's resolution. Each row keeps its sums (temp_sum_*_mc) beside the sample counts,
-- and the mean is sum / count / 1000 in numeric: the division avg(bigint) itself makes, so the same
-- double.
-- Three ways to the same numbers, chosen per site by how many hours it recomputes:
-- * recurrent (1 hour h, the row of h - 1 h stored with its sums; an hourly run's new hour): that
--   row's sums and counts, plus h, less the hour that leaves each window (h - 24 h, h - 168 h): the
--   probe below and three hours of the hour indexes instead of 168 input hours a site. A stored row
--   outside the scope is current: a changed hour in its windows would have put it in the scope, and
--   the runner deletes the scope's rows first. At 1,000 sites × 1 year (interleaved runs, load ~1):
--   the insert 54 ms, against 90 ms with a probe per site for each; 33 ms on one day of history.
-- * sparse (1 or 2 hours otherwise, e.g. the first hour after a gap): each hour aggregates its own
--   168 input hours, read by one index range scan. For one new hour at 1,000 sites × 1 year this took
--   42 ms where sorting and sliding windows over the same 168 input hours took 119 ms; from 3 hours a
--   site on, reading 168 hours per recomputed hour costs more than the windows.
-- * dense (a backfill, a rebuild, a late hour): sliding windows over the site's input, read once.
with

scope as (
    select site_id, range_start, range_end
    from pg_temp.scope_moving_avg
),

probe as (
    -- Up to 3 hourly rows per scope row (lateral + limit: a bounded index probe per scope row,
    -- whatever the length of the history or of the range).
    select
        s.site_id,
        h.hour,
        h.temperature_c
    from scope as s
    cross join lateral (
        select hour, temperature_c
        from gold_internal.site_hourly
        where site_id = s.site_id
            and hour >= s.range_start
            and hour < s.range_end
        limit 3
    ) as h
),

site_density as (
    -- Hours to recompute per site, counted up to 3 per scope row. A site without hourly rows in its
    -- scope has nothing to recompute and is in no path.
    select
        site_id,
        count(*) as hours
    from probe
    group by site_id
),

few_outputs as (
    -- The hours of sites recomputing 1 or 2: under 3 in all, so no probe reached its limit and the
    -- probes hold every one of them.
    select
        p.site_id,
        p.hour,
        p.temperature_c,
        d.hours
    from probe as p
    inner join site_density as d on d.site_id = p.site_id and d.hours < 3
),

single_hours as (
    -- Sites recomputing exactly one hour: in an hourly run, every site and the same hour.
    select
        site_id,
        hour,
        temperature_c,
        round(temperature_c * 1000)::bigint as temperature_mc
    from few_outputs
    where hours = 1
),

stored_before as (
    -- The stored rows of the hour before those hours, read an hour at a time through the hour index,
    -- which keeps an hour's sites together (a probe per site of a long history's key index touches a
    -- page per site). lateral + offset 0: an index scan per hour (see silver/observations.sql).
    select
        m.site_id,
        m.hour + interval '1 hour' as next_hour,
        m.temp_sum_24h_mc,
        m.samples_24h,
        m.temp_sum_7d_mc,
        m.samples_7d
    from (select distinct hour - interval '1 hour' as hour from single_hours) as b
    cross join lateral (
        select site_id, hour, temp_sum_24h_mc, samples_24h, temp_sum_7d_mc, samples_7d
        from gold_internal.site_temperature_moving_avg
        where hour = b.hour
        offset 0
    ) as m
),

previous as (
    -- The hour's site has the row of the hour before, with its sums (rows written before migration
    -- 0092 have none).
    select
        o.site_id,
        o.hour,
        o.temperature_c,
        o.temperature_mc,
        p.temp_sum_24h_mc,
        p.samples_24h,
        p.temp_sum_7d_mc,
        p.samples_7d
    from single_hours as o
    inner join stored_before as p on p.site_id = o.site_id and p.next_hour = o.hour
    where p.temp_sum_7d_mc is not null
),

leaving as (
    -- The hourly rows that leave the windows (h - 24 h, h - 168 h), an hour at a time as above.
    select
        h.site_id,
        h.hour,
        round(h.temperature_c * 1000)::bigint as temperature_mc
    from (
        select hour - interval '24 hours' as hour from previous
        union
        select hour - interval '168 hours' as hour from previous
    ) as l
    cross join lateral (
        select site_id, hour, temperature_c
        from gold_internal.site_hourly
        where hour = l.hour
        offset 0
    ) as h
),

recurrent as (
    -- [h - 23 h, h] is [h - 24 h, h - 1 h] with h - 24 h out and h in; likewise for 7 days.
    select
        p.site_id,
        p.hour,
        p.temperature_c,
        p.temp_sum_24h_mc + coalesce(p.temperature_mc, 0) - coalesce(out_24h.temperature_mc, 0)
            as temp_sum_24h_mc,
        p.temp_sum_7d_mc + coalesce(p.temperature_mc, 0) - coalesce(out_7d.temperature_mc, 0)
            as temp_sum_7d_mc,
        p.samples_24h + (p.temperature_mc is not null)::integer
        - (out_24h.temperature_mc is not null)::integer as samples_24h,
        p.samples_7d + (p.temperature_mc is not null)::integer
        - (out_7d.temperature_mc is not null)::integer as samples_7d
    from previous as p
    left join leaving as out_24h
        on out_24h.site_id = p.site_id and out_24h.hour = p.hour - interval '24 hours'
    left join leaving as out_7d
        on out_7d.site_id = p.site_id and out_7d.hour = p.hour - interval '168 hours'
),

sparse as (
    -- The same frames as the dense windows below: [hour - 23 h, hour] and [hour - 167 h, hour].
    select
        o.site_id,
        o.hour,
        o.temperature_c,
        a.temp_sum_24h_mc,
        a.temp_sum_7d_mc,
        a.samples_24h,
        a.samples_7d
    from few_outputs as o
    cross join lateral (
        select
            sum(i.temperature_mc) filter (where i.hour >= o.hour - interval '23 hours') as temp_sum_24h_mc,
            sum(i.temperature_mc) as temp_sum_7d_mc,
            count(i.temperature_mc) filter (where i.hour >= o.hour - interval '23 hours') as samples_24h,
            count(i.temperature_mc) as samples_7d
        from (
            select hour, round(temperature_c * 1000)::bigint as temperature_mc
            from gold_internal.site_hourly
            where site_id = o.site_id
                and hour >= o.hour - interval '167 hours'
                and hour <= o.hour
            offset 0
        ) as i
    ) as a
    where not exists (select 1 from previous as p where p.site_id = o.site_id)
),

dense_scope as (
    select s.site_id, s.range_start, s.range_end
    from scope as s
    inner join site_density as d on d.site_id = s.site_id and d.hours >= 3
),

input_ranges as (
    -- One input range per site (ranges of neighbouring scopes overlap, and each hour must be read
    -- once), so the join is an index range scan per site rather than a scan of its history.
    select
        site_id,
        min(range_start) - interval '167 hours' as input_start,
        max(range_end) as input_end
    from dense_scope
    group by site_id
    order by site_id
),

hourly as (
    -- lateral + offset 0: an index range scan per site (see silver/observations.sql); the key from the ranges,
    -- read in its order, so the windows sort each site's hours, not all of them (incremental sort).
    select
        r.site_id,
        h.hour,
        h.temperature_c,
        round(h.temperature_c * 1000)::bigint as temperature_mc,
        r.input_start + interval '167 hours' as output_start
    from input_ranges as r
    cross join lateral (
        select hour, temperature_c
        from gold_internal.site_hourly
        where site_id = r.site_id
            and hour >= r.input_start
            and hour < r.input_end
        offset 0
    ) as h
),

windowed as (
    -- Both windows in one pass over the input, sorted once: a backfill or rebuild reads its whole
    -- range anyway, and a sort per window (and a join of the two) cost a third more at a year.
    select
        site_id,
        hour,
        output_start,
        temperature_c,
        sum(temperature_mc) over last_24h as temp_sum_24h_mc,
        count(temperature_mc) over last_24h as samples_24h,
        sum(temperature_mc) over last_7d as temp_sum_7d_mc,
        count(temperature_mc) over last_7d as samples_7d
    from hourly
    window
        last_24h as (
            partition by site_id order by hour
            range between interval '23 hours' preceding and current row
        ),
        last_7d as (
            partition by site_id order by hour
            range between interval '167 hours' preceding and current row
        )
),

dense as (
    -- Hours before a site's first output hour were window input only.
    select
        w.site_id,
        w.hour,
        w.temperature_c,
        w.temp_sum_24h_mc,
        w.temp_sum_7d_mc,
        w.samples_24h,
        w.samples_7d
    from windowed as w
    where w.hour >= w.output_start
        and exists (
            select 1
            from dense_scope as s
            where w.site_id = s.site_id
                and w.hour >= s.range_start
                and w.hour < s.range_end
        )
),

in_scope as (
    select
        site_id, hour, temperature_c, temp_sum_24h_mc::numeric, temp_sum_7d_mc::numeric, samples_24h,
        samples_7d
    from recurrent
    union all
    select * from sparse
    union all
    select * from dense
),

final as (
    -- avg(bigint) is numeric(sum) / numeric(count); no samples: no sum, no mean.
    select
        site_id,
        hour,
        temperature_c,
        (temp_sum_24h_mc / nullif(samples_24h, 0) / 1000)::double precision as temp_ma_24h_c,
        (temp_sum_7d_mc / nullif(samples_7d, 0) / 1000)::double precision as temp_ma_7d_c,
        samples_24h::integer as samples_24h,
        samples_7d::integer as samples_7d,
        coalesce(temp_sum_24h_mc, 0)::bigint as temp_sum_24h_mc,
        coalesce(temp_sum_7d_mc, 0)::bigint as temp_sum_7d_mc
    from in_scope
)

select * from final
