/**
 * Runs the silver or gold models for one scope inside a caller's transaction: fill the scope temp
 * tables, then per relation delete the scoped rows and insert the model's rows for the same scope.
 *
 * Scopes are hour-aligned ranges per site (and source, for silver). An incremental run scopes what
 * changed in the layer below since the layer's watermark (ops.transform_watermarks: the snapshot
 * its previous successful run took), whatever the age of the hours: silver, the bronze rows whose
 * change_xid that snapshot does not show; gold, the hours of the silver runs committed since (every
 * silver key if one was a full run). Both add the keys of the window [interval - lookback,
 * interval + 1 h) (lookback 0 by default) and silver the rows of the interval's ingestion runs. A
 * full run scopes (-infinity, infinity) for every site and truncates instead of deleting.
 *
 * A range run (a backfill or heal, transformRange) scopes the window [from, to + 1 h) whole: one range
 * per (site, source) with bronze rows in it for silver, one per site with silver rows in it for gold
 * (moving averages up to 167 h after it, the whole UTC days it touches), so a year costs a few range
 * scans instead of one scope row per hour. It also takes what changed below since the layer's
 * watermark outside the window, hour by hour, as an incremental run would: advancing the watermark
 * past rows it did not transform would lose them.
 */
import type pg from "pg";
import { type Layer, readSql } from "./files.ts";

export type TransformMode = "incremental" | "full" | "range";

export interface RelationCounts {
  relation: string;
  deleted: number;
  inserted: number;
}

export interface ScopeParams {
  mode: TransformMode;
  /** The interval label (`2026-11-22T13`): selects the ingestion runs whose rows are in scope. */
  interval: string;
  /** Keys observed in [windowStart, windowEnd) are in scope too (a range run: the range itself). */
  windowStart: Date;
  windowEnd: Date;
  /**
   * The layer's watermark (a pg_snapshot as text): changes of the layer beneath whose transaction is
   * visible in it are transformed already. Null: nothing is, so every row is in scope.
   */
  watermark: string | null;
}

export interface LayerRunResult {
  relations: RelationCounts[];
  /** Distinct UTC hours recomputed (empty for a full run; a range run: every hour of the range). */
  affectedHours: Date[];
  /**
   * (site, source, hour) keys in scope (full run: all keys read; range run: the silver rows written,
   * or for gold the silver rows read).
   */
  affectedKeys: number;
  /** Rows read from the layer below (bronze for silver, silver for gold). */
  sourceRowsRead: number;
  ingestionRunIds: string[];
  rawObjectKeys: string[];
  /**
   * The layer's next watermark (a pg_snapshot as text), taken before the scope was read: every
   * change visible in it is in this run's scope (read committed: later statements see at least as
   * much), and anything it does not show is left to the next run.
   */
  nextWatermark: string;
}

interface Relation {
  target: string;
  model: string;
  /**
   * The scope table whose overall bounds ({@link scopeBounds}) `deleteScoped` takes as $1 and $2;
   * none: the statement takes no parameters.
   */
  boundsOf?: string;
  /** Deletes the rows of `target` the scope covers; the model then re-inserts them. */
  deleteScoped: string;
}

// The scoped statements join a scope table to a whole layer with range conditions per row, which
// the planner cannot estimate (a third of the table per range): on a long history it chose a hash
// join over a scan of all of bronze or silver (0.7-0.8 s each at 2.9 M rows) for a scope of one
// hour. The scope's overall bounds as parameters of the statement ($1, $2; values the planner sees)
// are what lets it read only the hours in them. An incremental run with a very late hour in its
// scope still reads every row from that hour on, once.
const RELATIONS: Record<Layer, Relation[]> = {
  silver: [
    {
      target: "silver.observations",
      model: "models/silver/observations.sql",
      boundsOf: "scope_silver",
      deleteScoped: `delete from silver.observations as t using pg_temp.scope_silver as s
        where t.site_id = s.site_id and t.source = s.source
          and t.hour >= s.range_start and t.hour < s.range_end
          and t.hour >= $1::timestamptz and t.hour < $2::timestamptz`,
    },
  ],
  // Order matters: daily, moving averages and latest conditions read the hourly rows.
  gold: [
    {
      target: "gold_internal.site_hourly",
      model: "models/gold/site_hourly.sql",
      boundsOf: "scope_hours",
      deleteScoped: `delete from gold_internal.site_hourly as t using pg_temp.scope_hours as s
        where t.site_id = s.site_id and t.hour >= s.range_start and t.hour < s.range_end
          and t.hour >= $1::timestamptz and t.hour < $2::timestamptz`,
    },
    {
      target: "gold_internal.site_daily",
      model: "models/gold/site_daily.sql",
      boundsOf: "scope_days",
      deleteScoped: `delete from gold_internal.site_daily as t using pg_temp.scope_days as s
        where t.site_id = s.site_id
          and t.day >= (s.range_start at time zone 'UTC')::date
          and t.day < (s.range_end at time zone 'UTC')::date
          and t.day >= ($1::timestamptz at time zone 'UTC')::date
          and t.day < ($2::timestamptz at time zone 'UTC')::date`,
    },
    {
      target: "gold_internal.site_temperature_moving_avg",
      model: "models/gold/site_temperature_moving_avg.sql",
      boundsOf: "scope_moving_avg",
      deleteScoped: `delete from gold_internal.site_temperature_moving_avg as t
        using pg_temp.scope_moving_avg as s
        where t.site_id = s.site_id and t.hour >= s.range_start and t.hour < s.range_end
          and t.hour >= $1::timestamptz and t.hour < $2::timestamptz`,
    },
    {
      target: "gold_internal.site_latest_conditions",
      model: "models/gold/site_latest_conditions.sql",
      deleteScoped: `delete from gold_internal.site_latest_conditions as t using pg_temp.scope_sites as s
        where t.site_id = s.site_id`,
    },
  ],
};

/** The relations a layer writes, in run order. */
export function relationsOf(layer: Layer): string[] {
  return RELATIONS[layer].map((r) => r.target);
}

const KEYS_TABLE = `create temp table scope_keys (
    site_id text not null, source text not null, hour timestamptz not null
  ) on commit drop`;

// Separate selects rather than one OR so each uses its own index (run id, change_xid, observed_at).
const SILVER_KEYS = `insert into pg_temp.scope_keys (site_id, source, hour)
  select site_id, source, date_trunc('hour', observed_at, 'UTC')
  from bronze.weather_observations
  where ingestion_run_id in (select run_id from ops.ingestion_runs where interval = $1)
  union
  select site_id, source, date_trunc('hour', observed_at, 'UTC')
  from bronze.weather_observations
  where change_xid >= pg_snapshot_xmin($4::pg_snapshot)
    and not pg_visible_in_snapshot(change_xid, $4::pg_snapshot)
  union
  select site_id, source, date_trunc('hour', observed_at, 'UTC')
  from bronze.weather_observations
  where observed_at >= $2 and observed_at < $3`;

// A range run adds what changed since the watermark outside its range ($2, $3), as SILVER_KEYS does.
const SILVER_CHANGED_OUTSIDE = `insert into pg_temp.scope_keys (site_id, source, hour)
  select distinct site_id, source, date_trunc('hour', observed_at, 'UTC')
  from bronze.weather_observations
  where change_xid >= pg_snapshot_xmin($1::pg_snapshot)
    and not pg_visible_in_snapshot(change_xid, $1::pg_snapshot)
    and (observed_at < $2 or observed_at >= $3)`;

// Silver's runs record the hours they rewrote; gold recomputes every silver key of those hours
// (observations_hour_idx), or all of silver after a full silver run.
const GOLD_KEYS = `insert into pg_temp.scope_keys (site_id, source, hour)
  with changed_runs as (
    select mode, affected_hours from ops.transform_runs
    where layer = 'silver' and status = 'succeeded'
      and change_xid >= pg_snapshot_xmin($3::pg_snapshot)
      and not pg_visible_in_snapshot(change_xid, $3::pg_snapshot)
  ),
  changed_hours as (
    select distinct h.hour from changed_runs as r cross join lateral unnest(r.affected_hours) as h (hour)
  )
  select o.site_id, o.source, o.hour from silver.observations as o
  where o.hour in (select hour from changed_hours)
  union
  select o.site_id, o.source, o.hour from silver.observations as o
  where exists (select 1 from changed_runs where mode = 'full')
  union
  select o.site_id, o.source, o.hour from silver.observations as o
  where o.hour >= $1 and o.hour < $2`;

// The silver keys of the hours of silver runs committed since the watermark ($1), outside the range
// ($2, $3); a full silver run since then: every silver key outside the range.
const GOLD_CHANGED_OUTSIDE = `insert into pg_temp.scope_keys (site_id, source, hour)
  with changed_runs as (
    select mode, affected_hours from ops.transform_runs
    where layer = 'silver' and status = 'succeeded'
      and change_xid >= pg_snapshot_xmin($1::pg_snapshot)
      and not pg_visible_in_snapshot(change_xid, $1::pg_snapshot)
  ),
  changed_hours as (
    select distinct h.hour from changed_runs as r cross join lateral unnest(r.affected_hours) as h (hour)
  )
  select o.site_id, o.source, o.hour from silver.observations as o
  where o.hour in (select hour from changed_hours) and (o.hour < $2 or o.hour >= $3)
  union
  select o.site_id, o.source, o.hour from silver.observations as o
  where exists (select 1 from changed_runs where mode = 'full') and (o.hour < $2 or o.hour >= $3)`;

/**
 * Per-site ranges merged where they overlap or touch (gaps and islands), so no hour is computed,
 * deleted or inserted twice. `ranges` selects (site_id, range_start, range_end).
 */
function mergedRanges(ranges: string): string {
  return `with ranges as (${ranges}),
      marked as (
        select *,
          case when range_start <= max(range_end) over (
              partition by site_id order by range_start, range_end
              rows between unbounded preceding and 1 preceding)
            then 0 else 1 end as starts_island
        from ranges
      ),
      islands as (
        select *, sum(starts_island) over (partition by site_id order by range_start, range_end) as island
        from marked
      )
      select site_id, min(range_start) as range_start, max(range_end) as range_end
      from islands group by site_id, island`;
}

const ALL_TIME = `'-infinity'::timestamptz as range_start, 'infinity'::timestamptz as range_end`;

async function buildSilverScope(client: pg.PoolClient, p: ScopeParams): Promise<void> {
  if (p.mode === "full") {
    await client.query(`create temp table scope_silver on commit drop as
      select site_id, source, ${ALL_TIME} from bronze.weather_observations group by site_id, source`);
  } else if (p.mode === "range") {
    // The changed keys lie outside the range, so no bronze row is read twice.
    await client.query(
      `create temp table scope_silver on commit drop as
      select site_id, source, $1::timestamptz as range_start, $2::timestamptz as range_end
      from bronze.weather_observations
      where observed_at >= $1 and observed_at < $2
      group by site_id, source
      union all
      select site_id, source, hour, hour + interval '1 hour' from pg_temp.scope_keys`,
      [p.windowStart, p.windowEnd],
    );
  } else {
    await client.query(`create temp table scope_silver on commit drop as
      select site_id, source, hour as range_start, hour + interval '1 hour' as range_end
      from pg_temp.scope_keys`);
  }
  await client.query("analyze pg_temp.scope_silver");
}

async function buildGoldScope(client: pg.PoolClient, p: ScopeParams): Promise<void> {
  if (p.mode === "full") {
    // Each site's sources, from one pass over silver as the sites alone were: the sites of one
    // source take site_hourly's direct path (one_source_hours).
    await client.query(`create temp table scope_site_sources on commit drop as
      select distinct site_id, source from silver.observations`);
    await client.query(`create temp table scope_sites on commit drop as
      select distinct site_id from pg_temp.scope_site_sources`);
    await client.query(`create temp table scope_one_source on commit drop as
      select site_id, min(source) as source from pg_temp.scope_site_sources
      group by site_id having count(*) = 1`);
    for (const t of ["scope_hours", "scope_days", "scope_moving_avg"]) {
      await client.query(`create temp table ${t} on commit drop as
        select site_id, ${ALL_TIME} from pg_temp.scope_sites`);
    }
  } else if (p.mode === "range") {
    // The range for every site with silver rows in it, plus the changed hours outside it.
    await client.query(
      `create temp table scope_hour_ranges on commit drop as
      select site_id, $1::timestamptz as range_start, $2::timestamptz as range_end
      from silver.observations
      where hour >= $1 and hour < $2
      group by site_id
      union all
      select distinct site_id, hour, hour + interval '1 hour' from pg_temp.scope_keys`,
      [p.windowStart, p.windowEnd],
    );
    await client.query(`create temp table scope_hours on commit drop as
      ${mergedRanges("select site_id, range_start, range_end from pg_temp.scope_hour_ranges")}`);
    // Whole UTC days: the daily model aggregates every hour of a day it recomputes.
    await client.query(`create temp table scope_days on commit drop as
      ${mergedRanges(`select site_id, date_trunc('day', range_start, 'UTC') as range_start,
          date_trunc('day', range_end - interval '1 microsecond', 'UTC') + interval '1 day' as range_end
        from pg_temp.scope_hours`)}`);
    // Every hour whose 7-day window holds a recomputed hour: up to 167 h after each range.
    await client.query(`create temp table scope_moving_avg on commit drop as
      ${mergedRanges(`select site_id, range_start, range_end + interval '167 hours' as range_end
        from pg_temp.scope_hours`)}`);
    await client.query(`create temp table scope_sites on commit drop as
      select distinct site_id from pg_temp.scope_hours`);
  } else {
    await client.query(`create temp table scope_hours on commit drop as
      select distinct site_id, hour as range_start, hour + interval '1 hour' as range_end
      from pg_temp.scope_keys`);
    await client.query(`create temp table scope_days on commit drop as
      select distinct site_id,
        date_trunc('day', hour, 'UTC') as range_start,
        date_trunc('day', hour, 'UTC') + interval '1 day' as range_end
      from pg_temp.scope_keys`);
    // A changed hour h moves the moving averages of h ... h + 167 h. Overlapping ranges are merged
    // so no hour is computed, deleted or inserted twice.
    await client.query(`create temp table scope_moving_avg on commit drop as
      ${mergedRanges(`select distinct site_id, hour as range_start, hour + interval '168 hours' as range_end
        from pg_temp.scope_keys`)}`);
    await client.query(`create temp table scope_sites on commit drop as
      select distinct site_id from pg_temp.scope_keys`);
  }
  if (p.mode !== "full") {
    // Outside a full run every site takes site_hourly's general path: an hour's scope is small, and
    // whether a site has one source would cost a read of its history.
    await client.query("create temp table scope_one_source (site_id text, source text) on commit drop");
  }
  for (const t of ["scope_hours", "scope_days", "scope_moving_avg", "scope_sites", "scope_one_source"]) {
    await client.query(`analyze pg_temp.${t}`);
  }
}

async function columnsOf(client: pg.PoolClient, table: string): Promise<string[]> {
  const { rows } = await client.query<{ attname: string }>(
    `select attname from pg_attribute
     where attrelid = $1::regclass and attnum > 0 and not attisdropped and attidentity = ''
     order by attnum`,
    [table],
  );
  return rows.map((r) => r.attname);
}

/**
 * [min(range_start), max(range_end)) of a scope table, as text for statement parameters (an empty
 * scope: an empty interval). Text rather than Date keeps 'infinity' (a full run's scope) intact.
 */
async function scopeBounds(client: pg.PoolClient, table: string): Promise<[string, string]> {
  const { rows } = await client.query<{ lo: string; hi: string }>(
    `select coalesce(min(range_start), 'infinity')::text as lo, coalesce(max(range_end), '-infinity')::text as hi
     from pg_temp.${table}`,
  );
  const r = rows[0] as { lo: string; hi: string };
  return [r.lo, r.hi];
}

interface LineageRow {
  rows_read: number;
  ingestion_run_ids: string[] | null;
  raw_object_keys: string[] | null;
}

async function readLineage(client: pg.PoolClient, layer: Layer, p: ScopeParams): Promise<LineageRow> {
  if (p.mode === "full") {
    const table = layer === "silver" ? "bronze.weather_observations" : "silver.observations";
    const { rows } = await client.query<LineageRow>(
      `select count(*) as rows_read, null as ingestion_run_ids, null as raw_object_keys from ${table}`,
    );
    return rows[0] as LineageRow;
  }
  const sql =
    layer === "silver"
      ? `select count(*) as rows_read,
           array_agg(distinct b.ingestion_run_id) as ingestion_run_ids,
           array_agg(distinct b.raw_object_key) as raw_object_keys
         from bronze.weather_observations as b
         inner join pg_temp.scope_silver as s
           on b.site_id = s.site_id and b.source = s.source
           and b.observed_at >= s.range_start and b.observed_at < s.range_end
         where b.observed_at >= $1::timestamptz and b.observed_at < $2::timestamptz`
      : `select count(*) as rows_read,
           array_agg(distinct o.ingestion_run_id) as ingestion_run_ids,
           array_agg(distinct o.raw_object_key) as raw_object_keys
         from silver.observations as o
         inner join pg_temp.scope_hours as s
           on o.site_id = s.site_id and o.hour >= s.range_start and o.hour < s.range_end
         where o.hour >= $1::timestamptz and o.hour < $2::timestamptz`;
  // The scope's bounds, for the planner: see RELATIONS.
  const bounds = await scopeBounds(client, layer === "silver" ? "scope_silver" : "scope_hours");
  const { rows } = await client.query<LineageRow>(sql, bounds);
  return rows[0] as LineageRow;
}

/**
 * Drops the indexes of `table`, its primary key included, and returns the statements that re-create
 * them (the key first), for a full run to execute after its insert. Building an index once from the
 * finished table is one sort, while maintaining it row by row costs every row a descent of the tree:
 * silver at 1,000 sites × 1 year took 55 s to insert with observations_hour_idx, 40 s + 3 s to
 * build it after; and at 200 sites × 1 year, copying silver's rows took 6.0 s with its key (rows in
 * key order, so only its right edge grew) against 3.0 s + 0.9 s to add the key after. Re-adding the
 * key checks it as inserting did: a duplicate fails the run. All inside the run's transaction
 * (truncate already holds the table's exclusive lock): a failed or interrupted run rolls the drop
 * back with everything else, and readers never see the table without its key or indexes.
 */
async function dropIndexes(client: pg.PoolClient, table: string): Promise<string[]> {
  const { rows } = await client.query<{ drop: string; create: string }>(
    `select
       case when k.contype = 'p'
         then format('alter table %s drop constraint %I', $1::regclass, k.conname)
         else format('drop index %I.%I', n.nspname, c.relname) end as drop,
       case when k.contype = 'p'
         then format('alter table %s add constraint %I %s', $1::regclass, k.conname, pg_get_constraintdef(k.oid))
         else pg_get_indexdef(i.indexrelid) end as create
     from pg_index as i
     inner join pg_class as c on c.oid = i.indexrelid
     inner join pg_namespace as n on n.oid = c.relnamespace
     left join pg_constraint as k on k.conindid = i.indexrelid and k.conrelid = i.indrelid
     where i.indrelid = $1::regclass and (k.oid is null or k.contype = 'p')
     order by k.contype is null, c.relname`,
    [table],
  );
  for (const r of rows) await client.query(r.drop);
  return rows.map((r) => r.create);
}

/**
 * Recomputes `layer` for the scope `p` describes, on `client`, which must already be inside a
 * transaction (and hold the layer's lock). Temp tables are dropped at commit.
 */
export async function runLayer(client: pg.PoolClient, layer: Layer, p: ScopeParams): Promise<LayerRunResult> {
  let affectedHours: Date[] = [];
  let affectedKeys = 0;
  // Before the scope is read: see LayerRunResult.nextWatermark.
  const mark = await client.query<{ snapshot: string }>("select pg_current_snapshot()::text as snapshot");
  const nextWatermark = mark.rows[0]?.snapshot as string;
  if (p.mode === "range") {
    await client.query(KEYS_TABLE);
    const since = p.watermark ?? "1:1:";
    await client.query(layer === "silver" ? SILVER_CHANGED_OUTSIDE : GOLD_CHANGED_OUTSIDE, [
      since,
      p.windowStart,
      p.windowEnd,
    ]);
    await client.query("analyze pg_temp.scope_keys");
    // Every hour of the range was recomputed (an hour without rows now has none in the layer).
    const { rows } = await client.query<{ hours: Date[] | null }>(
      `select array_agg(hour order by hour) as hours from (
         select generate_series($1::timestamptz, $2::timestamptz - interval '1 hour', interval '1 hour') as hour
         union
         select hour from pg_temp.scope_keys
       ) as h`,
      [p.windowStart, p.windowEnd],
    );
    affectedHours = rows[0]?.hours ?? [];
  } else if (p.mode === "incremental") {
    // Scope-sized statements never repay JIT compilation, yet range joins against the scope tables
    // are estimated at millions of rows on a long history, which switches it on (10-20 ms a statement,
    // hundreds with optimization). Local to the caller's transaction.
    await client.query("set local jit = off");
    await client.query(KEYS_TABLE);
    // No watermark: nothing is transformed. In '1:1:' no transaction is visible; only the rows
    // from before migration 0060 (change_xid 0, below its xmin) count as transformed.
    const since = p.watermark ?? "1:1:";
    const keys =
      layer === "silver"
        ? await client.query(SILVER_KEYS, [p.interval, p.windowStart, p.windowEnd, since])
        : await client.query(GOLD_KEYS, [p.windowStart, p.windowEnd, since]);
    affectedKeys = keys.rowCount ?? 0;
    await client.query("analyze pg_temp.scope_keys");
    const { rows } = await client.query<{ hours: Date[] | null }>(
      "select array_agg(distinct hour order by hour) as hours from pg_temp.scope_keys",
    );
    affectedHours = rows[0]?.hours ?? [];
  }
  if (layer === "silver") await buildSilverScope(client, p);
  else await buildGoldScope(client, p);

  const lineage = await readLineage(client, layer, p);
  if (p.mode === "full" || (p.mode === "range" && layer === "gold")) affectedKeys = lineage.rows_read;

  const relations: RelationCounts[] = [];
  for (const rel of RELATIONS[layer]) {
    let deleted: number;
    let dropped: string[] = [];
    if (p.mode === "full") {
      const { rows } = await client.query<{ n: number }>(`select count(*) as n from ${rel.target}`);
      deleted = rows[0]?.n ?? 0;
      await client.query(`truncate ${rel.target}`);
      dropped = await dropIndexes(client, rel.target);
    } else {
      const params: string[] = rel.boundsOf ? await scopeBounds(client, rel.boundsOf) : [];
      deleted = (await client.query(rel.deleteScoped, params)).rowCount ?? 0;
    }
    const cols = (await columnsOf(client, rel.target)).join(", ");
    const model = readSql(rel.model);
    const inserted = await client.query(
      `insert into ${rel.target} (${cols}) select ${cols} from (${model}) as m`,
    );
    for (const def of dropped) await client.query(def);
    relations.push({ relation: rel.target, deleted, inserted: inserted.rowCount ?? 0 });
  }
  if (p.mode === "range" && layer === "silver") affectedKeys = relations[0]?.inserted ?? 0;
  return {
    relations,
    affectedHours,
    affectedKeys,
    sourceRowsRead: lineage.rows_read,
    ingestionRunIds: lineage.ingestion_run_ids ?? [],
    rawObjectKeys: lineage.raw_object_keys ?? [],
    nextWatermark,
  };
}

// Two-key advisory lock: a namespace for this project and one key per layer.
const LOCK_NAMESPACE = 0x57444f; // "WDO"
const LOCK_KEY: Record<Layer, number> = { silver: 1, gold: 2 };

/** The transform run a {@link transformInTransaction} call is for (core/ports.ts TransformRunStart). */
export interface TransformRunSpec {
  layer: Layer;
  interval: string;
  mode: TransformMode;
  windowStart: Date;
  windowEnd: Date;
}

/**
 * One transform run of one layer in ONE transaction on ONE client (embedded PGlite is a single
 * session): take the layer's advisory lock, read its watermark (ops.transform_watermarks), run the
 * models ({@link runLayer}), advance the watermark and record run `runId` succeeded with its lineage
 * and change_xid, commit. The watermark and the run's success live here, not in the ops ledger
 * adapter, because they must commit with the rows: change_xid is this transaction's id (gold reads
 * silver's changed hours from it), and a watermark advanced outside it could skip or redo rows.
 * On error: rolls back (a connection that cannot even roll back is destroyed rather than returned
 * to the pool) and rethrows; the run row is then still `running`.
 */
export async function transformInTransaction(
  pool: pg.Pool,
  runId: number,
  spec: TransformRunSpec,
): Promise<LayerRunResult> {
  const { layer, mode, interval, windowStart, windowEnd } = spec;
  let client: pg.PoolClient | undefined;
  let broken = false;
  try {
    client = await pool.connect();
    await client.query("begin");
    await client.query("set local time zone 'UTC'");
    await client.query("select pg_advisory_xact_lock($1, $2)", [LOCK_NAMESPACE, LOCK_KEY[layer]]);
    // Transforms sort and window whole scopes (a full rebuild: whole tables); spilling to disk at
    // the default 4 MB is what makes them slow. Two layers at most run at once (the locks).
    await client.query(`set local work_mem = '${mode === "incremental" ? "64MB" : "256MB"}'`);
    // A full run re-creates the key and indexes it dropped (dropIndexes): one sort each.
    if (mode === "full") await client.query("set local maintenance_work_mem = '256MB'");
    const mark = await client.query<{ watermark: string }>(
      "select watermark::text as watermark from ops.transform_watermarks where layer = $1",
      [layer],
    );
    const watermark = mark.rows[0]?.watermark ?? null;
    const out = await runLayer(client, layer, { mode, interval, windowStart, windowEnd, watermark });
    // Runs of a layer serialize on its lock and take their snapshot after it, so each watermark
    // shows at least what the previous one did.
    await client.query(
      `insert into ops.transform_watermarks as w (layer, watermark, transform_run_id, updated_at)
       values ($1, $2::pg_snapshot, $3, clock_timestamp())
       on conflict (layer) do update set
         watermark = excluded.watermark,
         transform_run_id = excluded.transform_run_id, updated_at = excluded.updated_at`,
      [layer, out.nextWatermark, runId],
    );
    await client.query(
      `update ops.transform_runs set
         status = 'succeeded', finished_at = clock_timestamp(), change_xid = pg_current_xact_id(),
         affected_hours = $2, affected_keys = $3, source_rows_read = $4,
         ingestion_run_ids = $5, raw_object_keys = $6, relations = $7
       where run_id = $1`,
      [
        runId,
        out.affectedHours,
        out.affectedKeys,
        out.sourceRowsRead,
        out.ingestionRunIds,
        out.rawObjectKeys,
        JSON.stringify(out.relations),
      ],
    );
    await client.query("commit");
    return out;
  } catch (e) {
    await client?.query("rollback").catch(() => {
      broken = true;
    });
    throw e;
  } finally {
    client?.release(broken);
  }
}
