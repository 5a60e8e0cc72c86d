/**
 * The Kind Jobs' command lines (the migrate Job, then the hourly ingest and the daily heal), run for
 * real: the command and env names are read from infra-kind's HCL, the values are the ConfigMap's (paths
 * inside the image replaced by temp dirs), DATABASE_URL points at a throw-away database on the
 * machine's Postgres (127.0.0.1:5432) — as the owner for migrate, as each CronJob's own role after —
 * and the source is the simulator.
 * If the CronJob ever names a subcommand, flag or env var the CLI does not understand, this fails.
 * Needs a Postgres server: PG_ADMIN_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadKindHcl, renderKindManifests } from "./kind-hcl.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const ADMIN_URL = process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const run = promisify(execFile);

const dbName = `wdo_kind_cmd_${randomBytes(5).toString("hex")}`;
const dbUrl = (() => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${dbName}`;
  return u.toString();
})();
const home = mkdtempSync(join(tmpdir(), "wdo-kind-cmd-"));

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await admin(`create database ${dbName}`);
});

afterAll(async () => {
  await admin(`drop database if exists ${dbName} with (force)`);
  rmSync(home, { recursive: true, force: true });
});

/** The database URL of `dbUrl` as `role` (the machine's Postgres trusts loopback: no password). */
function urlAs(role: string): string {
  const u = new URL(dbUrl);
  u.username = role;
  return u.toString();
}

/**
 * Runs the container of the Job or CronJob at `address` as Terraform would create it: its command line
 * (plus `--source simulator` for a CronJob), the ConfigMap's values, its env names, local paths for the
 * image's; `values` fills the env names its Secrets provide (DATABASE_URL, DATABASE_ROLE_PASSWORDS).
 */
async function runContainer(address: string, values: Record<string, string>) {
  const manifests = renderKindManifests(await loadKindHcl());
  const object = manifests.find((m) => m.address === address)?.manifest;
  const configMap = manifests.find((m) => m.address === "kubernetes_config_map_v1.ingest")?.manifest;
  const cron = object.kind === "CronJob";
  const pod = cron ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec;
  const container = pod.containers[0];
  const command: string[] = container.command;
  const [exe, ...args] = command[0] === "weather" ? ["node", "bin/weather.js", ...command.slice(1)] : command;
  expect(exe).toBe("node");

  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: home };
  if (container.envFrom) {
    expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);
    for (const [name, value] of Object.entries<string>(configMap.data)) env[name] = value;
  }
  for (const e of container.env as Array<{ name: string }>) env[e.name] = values[e.name] ?? "";
  // Values that only make sense inside the image/cluster, swapped for local ones under the same names.
  if (cron) {
    env.WEATHER_HOME = home;
    env.RAW_STORE = join(home, "raw");
    env.WEATHER_SOURCE = "simulator";
  }

  // The same command line, from the image's WORKDIR equivalent (the repository root).
  return run(exe ?? "node", [...args, ...(cron ? ["--source", "simulator"] : [])], {
    cwd: REPO,
    env,
    timeout: 110_000,
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? -1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? "",
    }),
  );
}

async function count(sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    return (await client.query(sql)).rows[0].n;
  } finally {
    await client.end();
  }
}

describe("the Kind Jobs' commands, in the order Terraform runs them", () => {
  it("migrate: as the owner, applies the migrations and lets exactly the CronJobs' roles log in", async () => {
    const result = await runContainer("kubernetes_job_v1.migrate", {
      DATABASE_URL: dbUrl,
      DATABASE_ROLE_PASSWORDS: JSON.stringify({
        weather_ingest: "kind-test-ingest-0123456789",
        weather_heal: "kind-test-heal-0123456789",
      }),
    });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.applied).toContain("0080_function_roles");
    expect(report.rolesEnabled).toEqual(["weather_ingest", "weather_heal"]);
    expect(result.stdout + result.stderr).not.toContain("kind-test-ingest-0123456789");
  });

  it("ingest, as weather_ingest: the simulator's current hour into bronze with the CronJob's command line and env names", async () => {
    const result = await runContainer("kubernetes_cron_job_v1.ingest", {
      DATABASE_URL: urlAs("weather_ingest"),
    });

    // Assess: exit 0, one JSON document on stdout, and bronze rows in the database.
    expect(result.code, result.stderr).toBe(0);
    expect(() => JSON.parse(result.stdout)).not.toThrow();
    expect(await count("select count(*)::int as n from bronze.weather_observations")).toBeGreaterThan(0);
  });

  it("heal, as weather_heal: the last days of the simulator's history into bronze, silver and gold, nothing left missing", async () => {
    const result = await runContainer("kubernetes_cron_job_v1.heal", { DATABASE_URL: urlAs("weather_heal") });

    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ gapsRemaining: 0, failed: false, transform: { status: "succeeded" } });
    expect(report.siteHoursFilled).toBeGreaterThan(0);
    // At least every filled site-hour (a group may re-fetch an hour the ingest already has).
    expect(
      await count("select count(*)::int as n from bronze.weather_observations where kind <> 'current'"),
    ).toBeGreaterThanOrEqual(report.siteHoursFilled);
    expect(await count("select count(*)::int as n from gold_internal.site_hourly")).toBeGreaterThanOrEqual(
      report.siteHoursFilled,
    );
  });
});
