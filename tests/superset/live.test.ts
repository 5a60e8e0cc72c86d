/**
 * The imported bundle in a running Superset (started by scripts/test-superset.sh, which loads gold
 * through the pipeline into a throw-away database and points the bundle's connection at it as
 * superset_reader): every chart's query returns rows, and the dashboard renders every chart with
 * data in headless Chromium — saved as docs/img/dashboard.png.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type BundleSource, loadBundleSource } from "../../superset/build-bundle.ts";
import { type Page, withPage } from "./support/chromium.ts";
import { type SupersetApi, supersetLogin } from "./support/superset-api.ts";

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this suite through \`npm run test:superset\``);
  return v;
}

const BASE = required("SUPERSET_URL");
const ADMIN = process.env.SUPERSET_ADMIN_USER ?? "admin";
const PASSWORD = required("SUPERSET_ADMIN_PASSWORD");
const SCREENSHOT = process.env.SUPERSET_SCREENSHOT ?? "docs/img/dashboard.png";
const SLUG = "weather-overview";

interface ChartRecord {
  id: number;
  uuid: string;
  slice_name: string;
  query_context: string | null;
}
interface ChartDataResult {
  status: string;
  rowcount: number;
  error: string | null;
  data: unknown[];
}

let api: SupersetApi;
let source: BundleSource;
let charts: ChartRecord[];

beforeAll(async () => {
  source = await loadBundleSource();
  api = await supersetLogin(BASE, ADMIN, PASSWORD);
  const onDashboard = await api.get<{ result: { id: number }[] }>(`/api/v1/dashboard/${SLUG}/charts`);
  const ids = new Set(onDashboard.result.map((c) => c.id));
  charts = [];
  for (const id of ids) {
    const { result } = await api.get<{ result: ChartRecord }>(`/api/v1/chart/${id}`);
    charts.push({ ...result, id });
  }
});

describe("Superset with the imported bundle", () => {
  it("shows every chart of the bundle on the 'Weather overview' dashboard", async () => {
    // Act
    const { result } = await api.get<{ result: { dashboard_title: string } }>(`/api/v1/dashboard/${SLUG}`);
    // Assess
    expect(result.dashboard_title).toBe("Weather overview");
    expect(charts.map((c) => c.slice_name).sort()).toEqual(
      source.charts.map((c) => c.value.slice_name).sort(),
    );
  });

  it("connects as superset_reader, which reads gold and is refused bronze", async () => {
    // Prepare
    const { result: dbs } = await api.get<{ result: { id: number; database_name: string }[] }>(
      "/api/v1/database/",
    );
    const gold = dbs.find((d) => d.database_name === "weather_gold");
    expect(gold).toBeDefined();
    const sql = (query: string) =>
      api
        .post<{ data: Record<string, unknown>[] }>("/api/v1/sqllab/execute/", {
          database_id: gold?.id,
          sql: query,
          runAsync: false,
          schema: "gold",
          client_id: `w${Math.random().toString(36).slice(2, 11)}`,
        })
        .then(
          (r) => ({ rows: r.data, error: "" }),
          (e: Error) => ({ rows: [], error: e.message }),
        );
    // Act: SQL Lab runs on the same connection as the charts
    const { result: conn } = await api.get<{ result: { sqlalchemy_uri: string } }>(
      `/api/v1/database/${gold?.id}/connection`,
    );
    const goldRows = await sql("select count(*) as n from gold.v_site_hourly");
    const bronze = await sql("select count(*) as n from bronze.weather_observations");
    // Assess
    expect(new URL(conn.sqlalchemy_uri).username).toBe("superset_reader");
    expect(goldRows.error).toBe("");
    expect(Number(goldRows.rows[0]?.n)).toBeGreaterThan(0);
    expect(bronze.error).toMatch(/permission denied/i);
  });

  it("answers every chart's saved query with rows through /api/v1/chart/data", async () => {
    // Act
    const outcome: Record<string, string> = {};
    for (const c of charts) {
      expect(c.query_context, c.slice_name).toBeTruthy();
      const qc = JSON.parse(c.query_context as string) as Record<string, unknown>;
      const r = await api
        .post<{ result: ChartDataResult[] }>("/api/v1/chart/data", qc)
        .then(({ result }) => {
          const q = result[0];
          return q && q.status === "success" && q.rowcount > 0 && q.data.length > 0
            ? "rows"
            : `no rows: ${JSON.stringify(q).slice(0, 300)}`;
        })
        .catch((e: Error) => `error: ${e.message.slice(0, 500)}`);
      outcome[c.slice_name] = r;
    }
    // Assess
    expect(outcome).toEqual(Object.fromEntries(charts.map((c) => [c.slice_name, "rows"])));
  });

  it("renders every chart with data in a browser, and saves the screenshot", async () => {
    const expected = source.charts.length;
    await withPage({ width: 1600, height: 1400 }, async (page) => {
      // Prepare: log in through the login form, in the page, so the browser holds the session. The
      // login page's own script posts its event log at load; when that answer arrives after the
      // login's, its anonymous session cookie replaces the new one (seen in CI under load). So the
      // login waits for the page to settle, and is tried again (at most three times) when it did
      // not stick: wrong credentials still fail all three.
      let landed = "/login/";
      for (let attempt = 0; attempt < 3 && /^\/login/.test(landed); attempt++) {
        await page.goto(`${BASE}/login/`);
        await new Promise((r) => setTimeout(r, 1500));
        landed = await page.evaluate<string>(`(async () => {
          const body = new URLSearchParams({
            csrf_token: document.getElementById("csrf_token").value,
            username: ${JSON.stringify(ADMIN)},
            password: ${JSON.stringify(PASSWORD)},
          });
          const r = await fetch("/login/", { method: "POST", body, credentials: "same-origin" });
          return new URL(r.url).pathname;
        })()`);
      }
      expect(landed).not.toMatch(/^\/login/);

      // Act: open the dashboard, let it lay out, grow the window to the whole page, let it settle
      await page.goto(`${BASE}/superset/dashboard/${SLUG}/?standalone=1`);
      await rendered(page, expected);
      await page.fitToContent();
      const state = await rendered(page, expected);
      // Let the ECharts entry animations finish before the picture.
      await new Promise((r) => setTimeout(r, 2000));
      const png = await page.screenshot();
      await mkdir(dirname(SCREENSHOT), { recursive: true });
      await writeFile(SCREENSHOT, png);

      // Assess: every chart drawn, no error panel, and each data request answered with rows
      expect(state.errors).toEqual([]);
      expect(state.drawn.sort()).toEqual(source.charts.map((c) => c.value.slice_name).sort());
      const responses = page.events.filter(
        (e) =>
          e.method === "Network.responseReceived" &&
          String((e.params.response as { url: string }).url).includes("/api/v1/chart/data"),
      );
      expect(responses.length).toBeGreaterThanOrEqual(expected);
      for (const e of responses) {
        const { body } = await page.send<{ body: string }>("Network.getResponseBody", {
          requestId: e.params.requestId,
        });
        const result = (JSON.parse(body) as { result: ChartDataResult[] }).result;
        expect((e.params.response as { status: number }).status).toBe(200);
        expect(result.every((q) => q.rowcount > 0)).toBe(true);
      }
      // A dashboard of blank panels compresses to a few tens of KB; drawn charts do not.
      expect(png.length).toBeGreaterThan(100_000);
    });
  });
});

type RenderState = { charts: number; loading: number; drawn: string[]; errors: string[] };

/** Polls the dashboard until `expected` charts are drawn and nothing is loading (or 60 s pass). */
async function rendered(page: Page, expected: number): Promise<RenderState> {
  let state: RenderState = { charts: 0, loading: 1, drawn: [], errors: [] };
  for (let i = 0; i < 120; i++) {
    state = await page.evaluate<RenderState>(`(() => {
          const holders = [...document.querySelectorAll('[data-test="chart-grid-component"]')];
          return {
            charts: holders.length,
            loading: document.querySelectorAll('[data-test="loading-indicator"], .loading').length,
            drawn: holders
              .filter((h) => h.querySelector('[data-test="slice-container"] canvas, [data-test="slice-container"] svg, [data-test="slice-container"] table tbody tr, [data-test="slice-container"] .header-line'))
              .map((h) => h.getAttribute("data-test-chart-name")),
            errors: [...document.querySelectorAll('[role="alert"], .alert-danger, [data-test="error-tooltip"]')]
              .map((e) => e.textContent.slice(0, 300)),
          };
        })()`);
    if (state.charts >= expected && state.loading === 0 && state.drawn.length >= expected) break;
    // A chart that failed shows an error panel and never draws: no point waiting for it.
    if (state.charts >= expected && state.loading === 0 && state.errors.length > 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return state;
}
