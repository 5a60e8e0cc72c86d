/**
 * Quality checks declared in YAML beside the models (`sql/models/<layer>/<model>.yml`, dbt's shape)
 * and compiled here into SQL that returns the failing rows (zero rows = pass).
 *
 * A declaration file:
 * ```yaml
 * model: site_daily                 # the model file beside it (site_daily.sql)
 * relation: gold_internal.site_daily
 * key: [site_id, day]               # columns every failing row shows first
 * window: { column: day, type: date }   # how generic tests scope rows (omit: whole relation)
 * columns:
 *   - name: mean_humidity_pct
 *     tests:
 *       - accepted_range: { min: 0, max: 100, severity: warn }
 * tests:                            # model-level tests
 *   - freshness: { field: observed_at, error_after: { count: 2, period: hour } }
 *   - name: min_le_max              # a custom check: SQL returning the failing rows
 *     severity: error
 *     description: ...
 *     sql: select ... where d.day between {{first_day}} and {{last_day}} ...
 * ```
 * Generic tests: `not_null`, `unique`, `accepted_range {min, max}`, `relationships {to, field}`,
 * `freshness {field, warn_after | error_after: {count, period}}`. Each takes `severity` (`error`,
 * the default, blocks; `warn` is recorded and counted) and an optional `name`.
 *
 * Placeholders, replaced by SQL literals when a check is rendered for one run (so the planner sees
 * constants and estimates the window, not a third of the table): `{{interval}}` (text label),
 * `{{interval_start}}`, `{{window_start}}`, `{{window_end}}`, `{{now}}` (timestamptz),
 * `{{first_day}}`, `{{last_day}}` (the UTC dates the window touches), `{{var.NAME}}` (a number from
 * `sql/models/vars.yml`). Values come from parseInterval, Date#toISOString and the vars file only.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { LAYERS, type Layer, SQL_DIR, SqlFileError } from "./files.ts";

export type Severity = "error" | "warn";

export interface DeclaredCheck {
  /** `<layer>__<what>`, unique across all declarations, e.g. `gold__daily_min_le_max`. */
  name: string;
  layer: Layer;
  /** The relation the check is declared on. */
  relation: string;
  severity: Severity;
  /** `custom`, or the generic test type (`accepted_range`, `freshness`, ...). */
  kind: string;
  description: string;
  /** The failing-rows query with `{{...}}` placeholders still in it. */
  template: string;
  /** The declaration file, relative to `sql/`. */
  file: string;
}

/** Values the placeholders take for one run. */
export interface CheckParams {
  interval: string;
  intervalStart: Date;
  windowStart: Date;
  windowEnd: Date;
  now: Date;
}

interface WindowDecl {
  column: string;
  type?: "timestamptz" | "date";
}

interface ModelDecl {
  model: string;
  relation: string;
  key?: string[];
  window?: WindowDecl;
  columns?: { name: string; tests?: unknown[] }[];
  tests?: unknown[];
}

const PERIODS = new Set(["minute", "hour", "day"]);

function fail(file: string, what: string): never {
  throw new SqlFileError(`${file}: ${what}. Fix the declaration (see core/sql/checks.ts for the format).`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function identifier(file: string, v: unknown, what: string): string {
  if (typeof v !== "string" || !/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(v)) {
    fail(file, `${what} must be a lower-case SQL identifier, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A bound of accepted_range: a number or a `{{var.NAME}}` placeholder. */
function bound(file: string, v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "string" && /^\{\{var\.\w+\}\}$/.test(v)) return v;
  return fail(file, `${what} must be a number or "{{var.NAME}}", got ${JSON.stringify(v)}`);
}

function windowPredicate(alias: string, w: WindowDecl | undefined): string {
  if (!w) return "true";
  return w.type === "date"
    ? `${alias}.${w.column} between {{first_day}} and {{last_day}}`
    : `${alias}.${w.column} >= {{window_start}} and ${alias}.${w.column} < {{window_end}}`;
}

function compileGeneric(
  file: string,
  m: ModelDecl,
  layer: Layer,
  column: string | undefined,
  test: unknown,
): DeclaredCheck {
  // `- not_null` or `- accepted_range: {min: 0}`.
  const [type, raw] =
    typeof test === "string" ? [test, {}] : isRecord(test) ? (Object.entries(test)[0] ?? []) : [];
  if (typeof type !== "string" || !isRecord(raw)) fail(file, `a test must be a name or {name: {...}}`);
  const cfg = raw as Record<string, unknown>;
  const severity = (cfg.severity ?? "error") as Severity;
  if (severity !== "error" && severity !== "warn")
    fail(file, `severity must be error or warn, got ${severity}`);
  const keys = (m.key ?? []).map((k) => `t.${k}`);
  const shown = (cols: string[]) => [...new Set([...keys, ...cols])].join(", ");
  const where = windowPredicate("t", m.window);
  const model = m.model;
  const col = column ? identifier(file, column, "column") : undefined;
  const needColumn = (): string => col ?? fail(file, `${type} is a column test; declare it under columns`);
  let template: string;
  let description: string;
  let suffix: string;
  switch (type) {
    case "not_null": {
      const c = needColumn();
      template = `select ${shown([`t.${c}`])} from ${m.relation} as t where ${where} and t.${c} is null`;
      description = `${c} is never null`;
      suffix = `${c}_not_null`;
      break;
    }
    case "unique": {
      const c = needColumn();
      template = `select t.${c}, count(*) as copies from ${m.relation} as t where ${where} and t.${c} is not null group by t.${c} having count(*) > 1`;
      description = `${c} is unique`;
      suffix = `${c}_unique`;
      break;
    }
    case "accepted_range": {
      const c = needColumn();
      const min = bound(file, cfg.min, "accepted_range.min");
      const max = bound(file, cfg.max, "accepted_range.max");
      if (min === undefined && max === undefined) fail(file, "accepted_range needs min or max");
      const outside = [min === undefined ? "" : `t.${c} < ${min}`, max === undefined ? "" : `t.${c} > ${max}`]
        .filter(Boolean)
        .join(" or ");
      template = `select ${shown([`t.${c}`])} from ${m.relation} as t where ${where} and (${outside})`;
      description = `${c} within [${min ?? "-∞"}, ${max ?? "∞"}]`;
      suffix = `${c}_range`;
      break;
    }
    case "relationships": {
      const c = needColumn();
      const to = identifier(file, cfg.to, "relationships.to");
      const field = identifier(file, cfg.field, "relationships.field");
      template = `select distinct t.${c} from ${m.relation} as t where ${where} and t.${c} is not null and not exists (select 1 from ${to} as r where r.${field} = t.${c})`;
      description = `every ${c} exists in ${to}.${field}`;
      suffix = `${c}_in_${to.split(".").pop()}`;
      break;
    }
    case "freshness": {
      const field = identifier(file, cfg.field, "freshness.field");
      const after = cfg.error_after ?? cfg.warn_after;
      if (cfg.error_after !== undefined && cfg.warn_after !== undefined) {
        fail(file, "freshness takes warn_after or error_after, not both (declare two tests)");
      }
      if (!isRecord(after) || typeof after.count !== "number" || !PERIODS.has(String(after.period))) {
        fail(file, "freshness needs error_after or warn_after: {count: N, period: minute|hour|day}");
      }
      const sev: Severity = cfg.warn_after !== undefined ? "warn" : "error";
      const age = `${after.count} ${after.period}s`;
      // Newest over the whole relation: freshness is about the dataset, not the window.
      template = `select l.latest, {{now}} as now, round((extract(epoch from ({{now}} - l.latest)) / 60)::numeric, 1) as age_minutes from (select max(t.${field}) as latest from ${m.relation} as t) as l where l.latest is null or l.latest < {{now}} - interval '${age}'`;
      description = `newest ${field} younger than ${age} at the reference time`;
      suffix = "freshness";
      return {
        name: `${layer}__${typeof cfg.name === "string" ? cfg.name : `${model}_${suffix}`}`,
        layer,
        relation: m.relation,
        severity: sev,
        kind: type,
        description: typeof cfg.description === "string" ? cfg.description : description,
        template,
        file,
      };
    }
    default:
      return fail(file, `unknown test ${JSON.stringify(type)}`);
  }
  return {
    name: `${layer}__${typeof cfg.name === "string" ? cfg.name : `${model}_${suffix}`}`,
    layer,
    relation: m.relation,
    severity,
    kind: type,
    description: typeof cfg.description === "string" ? cfg.description : description,
    template,
    file,
  };
}

function compileCustom(file: string, m: ModelDecl, layer: Layer, t: Record<string, unknown>): DeclaredCheck {
  if (typeof t.name !== "string" || !/^[a-z][a-z0-9_]*$/.test(t.name))
    fail(file, "a custom check needs a name");
  if (typeof t.sql !== "string" || !t.sql.trim()) fail(file, `check ${t.name} needs sql`);
  const severity = t.severity ?? "error";
  if (severity !== "error" && severity !== "warn") fail(file, `${t.name}: severity must be error or warn`);
  return {
    name: `${layer}__${t.name}`,
    layer,
    relation: m.relation,
    severity,
    kind: "custom",
    description: typeof t.description === "string" ? t.description.trim() : t.name,
    template: t.sql.trim().replace(/;\s*$/, ""),
    file,
  };
}

/** Compiles one declaration file's text; `file` (relative to `sql/`) names it in errors. */
export function compileDeclarations(text: string, file: string, layer: Layer): DeclaredCheck[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    fail(file, `invalid YAML (${(e as Error).message})`);
  }
  if (!isRecord(doc)) fail(file, "expected a mapping with model, relation and tests");
  const m = doc as unknown as ModelDecl;
  identifier(file, m.model, "model");
  identifier(file, m.relation, "relation");
  if (m.window) identifier(file, m.window.column, "window.column");
  for (const k of m.key ?? []) identifier(file, k, "key");
  const out: DeclaredCheck[] = [];
  for (const c of m.columns ?? []) {
    for (const t of c.tests ?? []) out.push(compileGeneric(file, m, layer, c.name, t));
  }
  for (const t of m.tests ?? []) {
    if (isRecord(t) && "sql" in t) out.push(compileCustom(file, m, layer, t));
    else out.push(compileGeneric(file, m, layer, undefined, t));
  }
  return out;
}

let cached: { dir: string; checks: DeclaredCheck[]; vars: Record<string, number> } | undefined;

function loadAll(dir: string): { checks: DeclaredCheck[]; vars: Record<string, number> } {
  if (cached?.dir === dir) return cached;
  const checks: DeclaredCheck[] = [];
  for (const layer of LAYERS) {
    const modelsDir = join(dir, "models", layer);
    let files: string[];
    try {
      files = readdirSync(modelsDir).filter((f) => f.endsWith(".yml"));
    } catch (e) {
      throw new SqlFileError(`Cannot list ${modelsDir} (${(e as Error).message}); ship the sql/ directory.`);
    }
    for (const f of files.sort()) {
      const rel = join("models", layer, f);
      checks.push(...compileDeclarations(readFileSync(join(dir, rel), "utf8"), rel, layer));
    }
  }
  const seen = new Set<string>();
  for (const c of checks) {
    if (seen.has(c.name)) fail(c.file, `check ${c.name} is declared twice`);
    seen.add(c.name);
  }
  const varsFile = join(dir, "models", "vars.yml");
  let vars: Record<string, number> = {};
  try {
    const doc = parse(readFileSync(varsFile, "utf8")) as { vars?: Record<string, unknown> } | null;
    for (const [k, v] of Object.entries(doc?.vars ?? {})) {
      if (typeof v !== "number" || !Number.isFinite(v)) fail("models/vars.yml", `vars.${k} must be a number`);
    }
    vars = (doc?.vars ?? {}) as Record<string, number>;
  } catch (e) {
    if (e instanceof SqlFileError) throw e;
    throw new SqlFileError(`Cannot read ${varsFile} (${(e as Error).message}); ship the sql/ directory.`);
  }
  for (const c of checks) {
    for (const [, name] of c.template.matchAll(/\{\{var\.(\w+)\}\}/g)) {
      if (name === undefined || !(name in vars))
        fail(c.file, `${c.name} uses {{var.${name}}}, which models/vars.yml does not define`);
    }
  }
  cached = { dir, checks: checks.sort((a, b) => a.name.localeCompare(b.name)), vars };
  return cached;
}

/**
 * Every declared check (sorted by name), optionally of one layer. Files are read once per process.
 * @throws SqlFileError naming the file and entry of a malformed declaration.
 */
export function declaredChecks(layer?: Layer, dir: string = SQL_DIR): DeclaredCheck[] {
  const { checks } = loadAll(dir);
  return layer ? checks.filter((c) => c.layer === layer) : checks;
}

/** The thresholds in `sql/models/vars.yml`. */
export function checkVars(dir: string = SQL_DIR): Readonly<Record<string, number>> {
  return loadAll(dir).vars;
}

const utcDate = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The check's SQL for one run: placeholders become literals, and the body is wrapped as a
 * `materialized` CTE — planned for all its rows; otherwise the runner's outer `limit` favours a
 * plan that streams in key order, i.e. a full scan of a primary key over the whole history.
 */
export function renderCheck(check: DeclaredCheck, p: CheckParams, dir: string = SQL_DIR): string {
  const vars = checkVars(dir);
  const ts = (d: Date) => `'${d.toISOString()}'::timestamptz`;
  const values: Record<string, string> = {
    interval: `'${p.interval.replaceAll("'", "''")}'::text`,
    interval_start: ts(p.intervalStart),
    window_start: ts(p.windowStart),
    window_end: ts(p.windowEnd),
    now: ts(p.now),
    first_day: `'${utcDate(p.windowStart)}'::date`,
    // The window end is exclusive: its last day is the day of the instant before it.
    last_day: `'${utcDate(new Date(p.windowEnd.getTime() - 1))}'::date`,
  };
  const sql = check.template.replace(
    /\{\{\s*(var\.)?(\w+)\s*\}\}/g,
    (whole, isVar: string | undefined, key: string) => {
      const v = isVar ? vars[key] : values[key];
      if (v === undefined)
        throw new SqlFileError(`${check.file}: ${check.name} uses unknown placeholder ${whole}.`);
      return typeof v === "number" ? `(${v})` : v;
    },
  );
  return `with final as materialized (\n${sql}\n)\nselect * from final`;
}

/**
 * The markdown table of every declared check and threshold that docs/data-model.md carries between
 * `<!-- checks:begin -->` and `<!-- checks:end -->` (a test keeps the two equal).
 */
export function checksMarkdown(dir: string = SQL_DIR): string {
  const cell = (s: string) =>
    s
      .replaceAll("|", "\\|")
      .replace(/\{\{var\.(\w+)\}\}/g, "`$1`")
      .replace(/\s+/g, " ")
      .trim();
  const lines = [
    "| check | severity | relation | asserts | declared in |",
    "|---|---|---|---|---|",
    ...declaredChecks(undefined, dir).map(
      (c) =>
        `| \`${c.name}\` | ${c.severity} | \`${c.relation}\` | ${cell(c.description)} | \`sql/${c.file}\` |`,
    ),
    "",
    "| threshold (`sql/models/vars.yml`) | value |",
    "|---|---|",
    ...Object.entries(checkVars(dir)).map(([k, v]) => `| \`${k}\` | ${v} |`),
  ];
  return lines.join("\n");
}
