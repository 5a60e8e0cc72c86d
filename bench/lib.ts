/** Shared benchmark plumbing: a throw-away database on the machine's Postgres, and result files. */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import pg from "pg";

export const SERVER_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Creates `wdo_bench_<random>` and returns its URL plus a drop function. */
export async function benchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `wdo_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: SERVER_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  goal?: string;
  pass?: boolean;
}

/** Writes bench/results/NAME.json and NAME.md (a markdown table) and prints the table. */
export async function writeResults(
  name: string,
  meta: Record<string, unknown>,
  rows: BenchRow[],
): Promise<void> {
  await mkdir("bench/results", { recursive: true });
  const doc = { name, at: new Date().toISOString(), node: process.version, ...meta, rows };
  await writeFile(`bench/results/${name}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  const fmt = (n: number | undefined) =>
    n === undefined ? "" : Number.isInteger(n) ? String(n) : n.toFixed(3);
  const lines = [
    `# bench: ${name}`,
    "",
    `Run ${doc.at} on Node ${process.version}. ${Object.entries(meta)
      .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join("; ")}`,
    "",
    "| metric | value | unit | baseline | ratio | goal | pass |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.metric} | ${fmt(r.value)} | ${r.unit} | ${fmt(r.baseline)} | ${fmt(r.ratio)} | ${r.goal ?? ""} | ${r.pass === undefined ? "" : r.pass ? "yes" : "NO"} |`,
    ),
    "",
  ];
  await writeFile(`bench/results/${name}.md`, lines.join("\n"));
  process.stdout.write(`${lines.join("\n")}\n`);
}
