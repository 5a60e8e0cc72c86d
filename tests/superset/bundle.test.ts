/**
 * The bundle source against the real gold views (no Superset needed): every dataset column exists in
 * its view with the same type, every saved metric compiles there, and the build refuses broken links.
 * Uses DATABASE_URL's server when set, embedded PGlite otherwise.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import {
  BUNDLE_DIR,
  BundleError,
  type BundleSource,
  dashboardChartUuids,
  loadBundleSource,
  queryContextFor,
  renderBundle,
} from "../../superset/build-bundle.ts";

let db: TestDatabase;
let source: BundleSource;

beforeAll(async () => {
  db = await createTestDatabase();
  source = await loadBundleSource();
});
afterAll(async () => {
  await db?.destroy();
});

describe("superset bundle source", () => {
  it("holds one 'Weather overview' dashboard placing every chart, on datasets over gold views", () => {
    // Assess
    expect(source.dashboards.map((d) => d.value.dashboard_title)).toEqual(["Weather overview"]);
    const placed = dashboardChartUuids(source.dashboards[0]?.value ?? ({} as never));
    expect(placed.sort()).toEqual(source.charts.map((c) => c.value.uuid).sort());
    expect(source.charts.length).toBeGreaterThanOrEqual(6);
    expect(new Set(source.datasets.map((d) => d.value.table_name))).toEqual(
      new Set([
        "v_site_hourly",
        "v_site_daily",
        "v_temperature_moving_avg",
        "v_latest_conditions",
        "v_pipeline_runs",
        "v_pipeline_health",
        "v_data_freshness",
      ]),
    );
  });

  it("names only columns that exist in the gold views, with the views' types", async () => {
    // Prepare
    const { rows } = await db.pool.query<{ view: string; column: string; type: string }>(
      `select table_name as view, column_name as column, upper(data_type) as type
       from information_schema.columns where table_schema = 'gold'`,
    );
    const actual = new Map(rows.map((r) => [`${r.view}.${r.column}`, r.type]));
    // Act
    const mismatches = source.datasets.flatMap(({ value: ds }) =>
      ds.columns
        .filter((c) => actual.get(`${ds.table_name}.${c.column_name}`) !== c.type)
        .map(
          (c) =>
            `${ds.table_name}.${c.column_name}: bundle ${c.type}, gold ${actual.get(`${ds.table_name}.${c.column_name}`) ?? "missing"}`,
        ),
    );
    // Assess
    expect(mismatches).toEqual([]);
  });

  it("has saved metrics that compile against their views", async () => {
    // Act
    const failures: string[] = [];
    for (const { value: ds } of source.datasets) {
      for (const m of ds.metrics) {
        await db.pool.query(`select ${m.expression} from gold.${ds.table_name}`).catch((e: Error) => {
          failures.push(`${ds.table_name}.${m.metric_name}: ${e.message}`);
        });
      }
    }
    // Assess
    expect(failures).toEqual([]);
  });

  it("renders a query for every chart and fills the database URI from the build", () => {
    // Act
    const files = renderBundle(source, "postgresql+psycopg2://superset_reader:s3cret@127.0.0.1:5432/weather");
    // Assess
    expect(files.get("databases/weather_gold.yaml")).toContain(
      "sqlalchemy_uri: postgresql+psycopg2://superset_reader:s3cret@127.0.0.1:5432/weather",
    );
    for (const { file, value } of source.charts) {
      const ds = source.datasets.find((d) => d.value.uuid === value.dataset_uuid)?.value;
      expect(ds, file).toBeDefined();
      const qc = queryContextFor(value, ds as NonNullable<typeof ds>);
      expect(qc.queries[0]?.columns ?? qc.queries[0]?.metrics, file).toBeDefined();
      expect(files.get(file), file).toContain("query_context:");
    }
  });

  it("commits no connection secret: the URI is a placeholder in the source", async () => {
    // Act
    const text = await readFile(join(BUNDLE_DIR, "databases/weather_gold.yaml"), "utf8");
    // Assess
    expect(text).toMatch(/^sqlalchemy_uri: __SUPERSET_DATABASE_URI__$/m);
  });

  it("refuses a bundle whose chart names a column its dataset lacks", async () => {
    // Prepare: a scratch copy with one renamed column
    const dir = await mkdtemp(join(tmpdir(), "wdo-bundle-"));
    try {
      await cp(BUNDLE_DIR, dir, { recursive: true });
      const file = join(dir, "datasets/v_site_daily.yaml");
      await writeFile(
        file,
        (await readFile(file, "utf8")).replace("column_name: site_id", "column_name: site_key"),
      );
      // Act
      const error = await loadBundleSource(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      // Assess
      expect(error).toBeInstanceOf(BundleError);
      expect((error as BundleError).problems).toContain(
        "charts/daily_temperature_range.yaml: column site_id is not in dataset v_site_daily",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
