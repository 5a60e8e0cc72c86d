/**
 * Builds the Superset import ZIP from the bundle source in superset/bundle (Superset's dashboard
 * export format v1: metadata.yaml, databases/, datasets/, charts/, dashboards/, linked by UUID).
 *
 *   SUPERSET_DATABASE_URI=postgresql+psycopg2://superset_reader:PASSWORD@HOST:5432/DB \
 *     npx tsx superset/build-bundle.ts --out /tmp/weather-overview.zip
 *
 * What the build adds to the source: the database URI from the environment (so no host or password
 * is committed), and each chart's `query_context` derived from its params — the query Superset's
 * API (`POST /api/v1/chart/data`), reports and cache warm-up run. It refuses a bundle whose links are
 * broken (a chart naming a column or metric its dataset lacks, a dashboard naming an unknown chart).
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify as stringify12 } from "yaml";
import { z } from "zod";

export const BUNDLE_DIR = fileURLToPath(new URL("./bundle", import.meta.url));
/** The folder inside the ZIP; Superset strips it on import. */
export const BUNDLE_ROOT = "weather_overview";
export const DATABASE_URI_PLACEHOLDER = "__SUPERSET_DATABASE_URI__";

/** The bundle source is inconsistent or malformed; the message lists every problem and its file. */
export class BundleError extends Error {
  constructor(readonly problems: string[]) {
    super(`superset bundle is invalid — fix these in superset/bundle:\n  ${problems.join("\n  ")}`);
    this.name = "BundleError";
  }
}

/** The build needs the database URI; the message says how to pass it. */
export class BundleConfigError extends Error {
  constructor(message: string) {
    super(
      `${message} (set SUPERSET_DATABASE_URI, e.g. postgresql+psycopg2://superset_reader:PASSWORD@127.0.0.1:5432/weather)`,
    );
    this.name = "BundleConfigError";
  }
}

const uuid = z.uuid();
const adhocFilter = z.looseObject({
  clause: z.literal("WHERE"),
  expressionType: z.literal("SIMPLE"),
  operator: z.string(),
  subject: z.string(),
  comparator: z.unknown(),
});
const params = z.looseObject({
  viz_type: z.string(),
  adhoc_filters: z.array(adhocFilter).default([]),
  x_axis: z.string().optional(),
  time_grain_sqla: z.string().optional(),
  groupby: z.array(z.string()).default([]),
  metrics: z.array(z.string()).default([]),
  metric: z.string().optional(),
  all_columns: z.array(z.string()).default([]),
  order_by_cols: z.array(z.string()).default([]),
  row_limit: z.number().int().positive().optional(),
});
const chartSchema = z.looseObject({
  slice_name: z.string().min(1),
  viz_type: z.string(),
  uuid,
  dataset_uuid: uuid,
  version: z.string(),
  params,
});
const datasetSchema = z.looseObject({
  table_name: z.string(),
  schema: z.literal("gold"),
  uuid,
  database_uuid: uuid,
  version: z.string(),
  main_dttm_col: z.string().nullable(),
  columns: z.array(z.looseObject({ column_name: z.string(), type: z.string(), is_dttm: z.boolean() })),
  metrics: z.array(z.looseObject({ metric_name: z.string(), expression: z.string() })),
});
const databaseSchema = z.looseObject({
  database_name: z.string(),
  sqlalchemy_uri: z.string(),
  uuid,
  version: z.string(),
});
const positionNode = z.looseObject({ type: z.string(), id: z.string(), meta: z.looseObject({}).optional() });
const dashboardSchema = z.looseObject({
  dashboard_title: z.string(),
  uuid,
  version: z.string(),
  slug: z.string().optional(),
  position: z.record(z.string(), z.union([positionNode, z.string()])),
});

export type Chart = z.infer<typeof chartSchema>;
export type Dataset = z.infer<typeof datasetSchema>;
export type Database = z.infer<typeof databaseSchema>;
export type Dashboard = z.infer<typeof dashboardSchema>;

/** A parsed bundle source; each record keeps its path relative to the bundle root. */
export interface BundleSource {
  metadata: Record<string, unknown>;
  databases: { file: string; value: Database }[];
  datasets: { file: string; value: Dataset }[];
  charts: { file: string; value: Chart }[];
  dashboards: { file: string; value: Dashboard }[];
}

async function readYamlDir<T>(
  dir: string,
  sub: string,
  schema: z.ZodType<T>,
  problems: string[],
): Promise<{ file: string; value: T }[]> {
  const names = (await readdir(join(dir, sub))).filter((n) => n.endsWith(".yaml")).sort();
  const out: { file: string; value: T }[] = [];
  for (const name of names) {
    const file = `${sub}/${name}`;
    let doc: unknown;
    try {
      doc = parse(await readFile(join(dir, file), "utf8"));
    } catch (e) {
      problems.push(`${file}: not valid YAML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
      continue;
    }
    const parsed = schema.safeParse(doc);
    if (parsed.success) out.push({ file, value: parsed.data });
    else problems.push(`${file}: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`);
  }
  return out;
}

/** Reads and validates superset/bundle (or `dir`): schemas first, then every UUID, column and metric link. */
export async function loadBundleSource(dir: string = BUNDLE_DIR): Promise<BundleSource> {
  const problems: string[] = [];
  const source: BundleSource = {
    metadata: parse(await readFile(join(dir, "metadata.yaml"), "utf8")) as Record<string, unknown>,
    databases: await readYamlDir(dir, "databases", databaseSchema, problems),
    datasets: await readYamlDir(dir, "datasets", datasetSchema, problems),
    charts: await readYamlDir(dir, "charts", chartSchema, problems),
    dashboards: await readYamlDir(dir, "dashboards", dashboardSchema, problems),
  };
  problems.push(...linkProblems(source));
  if (problems.length > 0) throw new BundleError(problems);
  return source;
}

/** Every column a chart's params name (axis, series, table columns, filters, ordering). */
export function chartColumns(chart: Chart): string[] {
  const p = chart.params;
  const ordered = p.order_by_cols.map((c) => String((JSON.parse(c) as [string, boolean])[0]));
  return [
    ...(p.x_axis ? [p.x_axis] : []),
    ...p.groupby,
    ...p.all_columns,
    ...p.adhoc_filters.map((f) => f.subject),
    ...ordered,
  ];
}

/** Every saved metric a chart's params name. */
export function chartMetrics(chart: Chart): string[] {
  return [...chart.params.metrics, ...(chart.params.metric ? [chart.params.metric] : [])];
}

function chartNodes(dashboard: Dashboard): z.infer<typeof positionNode>[] {
  return Object.values(dashboard.position).filter(
    (n): n is z.infer<typeof positionNode> => typeof n !== "string" && n.type === "CHART",
  );
}

/** UUIDs of the charts a dashboard's layout places. */
export function dashboardChartUuids(dashboard: Dashboard): string[] {
  return chartNodes(dashboard).map((n) => String(n.meta?.uuid));
}

function linkProblems(s: BundleSource): string[] {
  const problems: string[] = [];
  const dbs = new Set(s.databases.map((d) => d.value.uuid));
  const datasets = new Map(s.datasets.map((d) => [d.value.uuid, d.value]));
  for (const { file, value } of s.datasets) {
    if (!dbs.has(value.database_uuid)) problems.push(`${file}: unknown database_uuid ${value.database_uuid}`);
  }
  for (const { file, value } of s.charts) {
    const ds = datasets.get(value.dataset_uuid);
    if (!ds) {
      problems.push(`${file}: unknown dataset_uuid ${value.dataset_uuid}`);
      continue;
    }
    if (value.params.viz_type !== value.viz_type)
      problems.push(`${file}: params.viz_type differs from viz_type`);
    const cols = new Set(ds.columns.map((c) => c.column_name));
    for (const c of chartColumns(value)) {
      if (!cols.has(c)) problems.push(`${file}: column ${c} is not in dataset ${ds.table_name}`);
    }
    const metrics = new Set(ds.metrics.map((m) => m.metric_name));
    for (const m of chartMetrics(value)) {
      if (!metrics.has(m)) problems.push(`${file}: metric ${m} is not in dataset ${ds.table_name}`);
    }
  }
  const placed = new Set(s.dashboards.flatMap((d) => dashboardChartUuids(d.value)));
  const charts = new Set(s.charts.map((c) => c.value.uuid));
  for (const { file, value } of s.dashboards) {
    for (const u of dashboardChartUuids(value)) {
      if (!charts.has(u)) problems.push(`${file}: places unknown chart ${u}`);
    }
    // The importer maps each placeholder chartId to the new chart id: they must be present and unique.
    const ids = chartNodes(value).map((n) => n.meta?.chartId);
    if (ids.some((id) => typeof id !== "number") || new Set(ids).size !== ids.length) {
      problems.push(`${file}: every CHART node needs a unique numeric meta.chartId`);
    }
  }
  // Superset imports only the charts a dashboard places; an unplaced chart would silently vanish.
  for (const { file, value } of s.charts) {
    if (!placed.has(value.uuid))
      problems.push(`${file}: chart is on no dashboard, so it would not be imported`);
  }
  const uuids = [...s.databases, ...s.datasets, ...s.charts, ...s.dashboards].map((r) => r.value.uuid);
  for (const u of new Set(uuids)) {
    if (uuids.filter((x) => x === u).length > 1) problems.push(`uuid ${u} is used more than once`);
  }
  return problems;
}

/** The chart-data request Superset runs for a chart: what `POST /api/v1/chart/data` accepts. */
export interface QueryContext {
  datasource: { id: number; type: "table" };
  force: boolean;
  queries: Record<string, unknown>[];
  form_data: Record<string, unknown>;
  result_format: "json";
  result_type: "full";
}

/**
 * Derives a chart's query from its params, the way Superset's front end builds it for these viz types
 * (ECharts time-series line/bar, table in raw mode, big number). The datasource id is a placeholder;
 * the importer rewrites it to the imported dataset's id.
 */
export function queryContextFor(chart: Chart, dataset: Dataset): QueryContext {
  const p = chart.params;
  const filters = p.adhoc_filters
    .filter((f) => f.operator !== "TEMPORAL_RANGE")
    .map((f) => ({ col: f.subject, op: f.operator, val: f.comparator }));
  const base = {
    filters,
    extras: { having: "", where: "" },
    applied_time_extras: {},
    annotation_layers: [],
    time_range: "No filter",
    url_params: {},
    custom_params: {},
    custom_form_data: {},
    row_limit: p.row_limit ?? 10000,
    series_limit: 0,
    order_desc: true,
  };
  let query: Record<string, unknown>;
  if (chart.viz_type.startsWith("echarts_timeseries")) {
    const x = p.x_axis ?? dataset.main_dttm_col ?? "";
    const temporal = dataset.columns.some((c) => c.column_name === x && c.is_dttm);
    const axis = temporal
      ? {
          timeGrain: p.time_grain_sqla,
          columnType: "BASE_AXIS",
          sqlExpression: x,
          label: x,
          expressionType: "SQL",
        }
      : x;
    query = {
      ...base,
      columns: [axis, ...p.groupby],
      metrics: p.metrics,
      series_columns: p.groupby,
      orderby: p.metrics.length > 0 ? [[p.metrics[0], false]] : [],
    };
  } else if (chart.viz_type === "table") {
    query = {
      ...base,
      columns: p.all_columns,
      metrics: [],
      orderby: p.order_by_cols.map((c) => JSON.parse(c) as [string, boolean]),
    };
  } else if (chart.viz_type === "big_number_total") {
    query = { ...base, columns: [], metrics: p.metric ? [p.metric] : [], orderby: [] };
  } else {
    throw new BundleError([
      `chart ${chart.slice_name}: viz_type ${chart.viz_type} has no query builder here`,
    ]);
  }
  return {
    datasource: { id: 0, type: "table" },
    force: false,
    queries: [query],
    form_data: { ...p },
    result_format: "json",
    result_type: "full",
  };
}

/**
 * Superset reads bundles with PyYAML, which speaks YAML 1.1: emit 1.1 so that strings such as
 * timestamps or `on` stay quoted strings there.
 */
function stringify(value: unknown): string {
  return stringify12(value, { version: "1.1" });
}

/** The files of the import ZIP (path under {@link BUNDLE_ROOT} → YAML text), with the URI filled in. */
export function renderBundle(source: BundleSource, databaseUri: string): Map<string, string> {
  if (!/^[a-z0-9+]+:\/\//.test(databaseUri))
    throw new BundleConfigError(`not a SQLAlchemy URI: ${databaseUri}`);
  const datasets = new Map(source.datasets.map((d) => [d.value.uuid, d.value]));
  const files = new Map<string, string>();
  files.set("metadata.yaml", stringify(source.metadata));
  for (const { file, value } of source.databases) {
    files.set(
      file,
      stringify({
        ...value,
        sqlalchemy_uri: value.sqlalchemy_uri.replace(DATABASE_URI_PLACEHOLDER, databaseUri),
      }),
    );
  }
  for (const { file, value } of source.datasets) files.set(file, stringify(value));
  for (const { file, value } of source.charts) {
    const dataset = datasets.get(value.dataset_uuid) as Dataset;
    files.set(file, stringify({ ...value, query_context: JSON.stringify(queryContextFor(value, dataset)) }));
  }
  for (const { file, value } of source.dashboards) files.set(file, stringify(value));
  return files;
}

/** Writes `files` as a ZIP at `out` (Python's zipfile, which Superset itself reads bundles with). */
export async function writeBundleZip(files: Map<string, string>, out: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "superset-bundle-"));
  try {
    for (const [file, text] of files) {
      const path = join(work, BUNDLE_ROOT, file);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
    }
    await rm(out, { force: true });
    execFileSync(process.env.PYTHON ?? "python3", ["-m", "zipfile", "-c", resolve(out), BUNDLE_ROOT], {
      cwd: work,
      stdio: ["ignore", "ignore", "inherit"],
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf("--out");
  const out = i >= 0 ? argv[i + 1] : undefined;
  if (!out) throw new BundleConfigError("usage: build-bundle.ts --out FILE.zip");
  const uri = process.env.SUPERSET_DATABASE_URI;
  if (!uri) throw new BundleConfigError("SUPERSET_DATABASE_URI is not set");
  const source = await loadBundleSource();
  await writeBundleZip(renderBundle(source, uri), out);
  process.stderr.write(
    `wrote ${out}: ${source.charts.length} charts, ${source.datasets.length} datasets, ${source.dashboards.length} dashboard(s)\n`,
  );
}

if (process.argv[1] && basename(process.argv[1]) === basename(fileURLToPath(import.meta.url))) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof BundleConfigError || e instanceof BundleError ? 2 : 1);
  });
}
