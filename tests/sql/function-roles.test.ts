/**
 * One database role per function (sql/migrations/0080_function_roles.sql), tried from both sides on
 * Postgres 15 (the server named by DATABASE_URL; PGlite is one session, so the negative half runs
 * there too, each statement in a rolled-back transaction under `set local role`):
 * - each function's real work succeeds under its role — ingest (the simulator through the real use
 *   case and COPY path), silver and gold transforms, the quality checks, a heal's range transform —
 *   so no grant is too narrow for production;
 * - each role is refused (SQLSTATE 42501) what another function does: ingest writing silver or gold,
 *   the transform deleting bronze, the checks writing anything but check results, Superset reading
 *   below gold.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardPool } from "#core/adapters/database.ts";
import { pgBronzeRepository } from "#core/adapters/pg-bronze-repository.ts";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { loadConfig } from "#core/config/env.ts";
import { pendingMigrations } from "#core/db/migrate.ts";
import { enableRoles, parseRolePasswords } from "#core/db/roles.ts";
import { addHours, type Interval, intervalOf, intervalStart } from "#core/domain/interval.ts";
import type { Site } from "#core/domain/sites.ts";
import { memoryLog } from "#core/observability/logger.ts";
import { createProvider } from "#core/providers/index.ts";
import { runQualityChecks } from "#core/use-cases/check-quality.ts";
import { ingestInterval } from "#core/use-cases/ingest.ts";
import { runTransform, transformRange } from "#core/use-cases/transform.ts";
import { createTestDatabase, type TestDatabase } from "#tests/helpers/db.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";
import { memoryRawStore } from "../helpers/fakes.ts";

// The last complete hour, so the freshness check passes as it would in production.
const INTERVAL: Interval = addHours(intervalOf(new Date()), -1);
const SITES: Site[] = Array.from({ length: 4 }, (_, i) => ({
  id: `site-${i + 1}`,
  name: `Site ${i + 1}`,
  lat: 40 + i,
  lon: -3 + i,
  timezone: "UTC",
  country: "ES",
}));
const ROLES = ["weather_ingest", "weather_transform", "weather_checks", "weather_heal"] as const;
type Role = (typeof ROLES)[number] | "superset_reader";

let db: TestDatabase;
let sim: Simulator;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator({ clock: () => intervalStart(INTERVAL) });
});
afterAll(async () => {
  for (const p of pools) await p.end();
  await sim?.close();
  await db?.destroy();
});

/** A pool on the test database whose every session acts as `role` (Postgres only). */
function poolAs(role: Role): pg.Pool {
  const pool = new pg.Pool({ connectionString: db.url, max: 2, options: `-c role=${role}` });
  // As every pool of the code: a connection the teardown's `drop database … with (force)` ends must
  // not crash the test process (seen once in CI, 57P01 as an uncaught client error).
  guardPool(pool, memoryLog());
  pools.push(pool);
  return pool;
}

/** The SQLSTATE `sql` raises as `role` (rolled back either way), or "none". */
async function sqlstateAs(role: Role, sql: string): Promise<string> {
  const client = await db.pool.connect();
  try {
    await client.query("begin");
    await client.query(`set local role ${role}`);
    await client.query(sql);
    return "none";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    await client.query("rollback");
    client.release();
  }
}

const REFUSED = "42501";
const BRONZE_ROW = `insert into bronze.weather_observations
  (site_id, source, observed_at, ingestion_run_id, ingested_at, raw_object_key, payload)
  values ('x', 'simulator', now(), 'r', now(), 'k', '{}')`;
// INSERT privilege alone: a select would be refused first and hide a widened insert grant (it did).
// Allowed, it fails later on a NOT NULL column (23502), which is not 42501 either.
const SILVER_ROW = "insert into silver.observations default values";

describe("each function's work succeeds under its own role", () => {
  it("ingest as weather_ingest, silver and gold as weather_transform, checks as weather_checks", async (ctx) => {
    if (db.embedded) ctx.skip(); // one PGlite session cannot hold four roles at once
    // Act: the real ingest use case (COPY path included: four sites, then replayed)
    const config = loadConfig({ OPEN_METEO_BATCH_SIZE: "2" }, {});
    const ingest = await ingestInterval(
      {
        provider: createProvider(config, "simulator", { baseUrl: sim.url }),
        rawStore: memoryRawStore(),
        bronze: pgBronzeRepository(poolAs("weather_ingest"), { copy: true }),
        policy: { timeoutMs: 2_000, maxAttempts: 2, backoffBaseMs: 5, backoffMaxMs: 20 },
        log: memoryLog(),
      },
      { interval: INTERVAL, sites: SITES, failureThreshold: 0 },
    );
    const transform = pgOpsPorts(poolAs("weather_transform"));
    const silver = await runTransform(transform, { layer: "silver", interval: INTERVAL });
    const gold = await runTransform(transform, { layer: "gold", interval: INTERVAL });
    const checks = await runQualityChecks(pgOpsPorts(poolAs("weather_checks")), { interval: INTERVAL });
    // Assess
    expect(ingest.sitesOk).toBe(SITES.length);
    expect(silver.sourceRowsRead).toBe(SITES.length);
    expect(gold.affectedKeys).toBeGreaterThan(0);
    expect(checks.checks.length).toBeGreaterThan(10);
    const { rows } = await db.pool.query<{ n: number }>("select count(*)::int as n from gold.v_site_hourly");
    expect(rows[0]?.n).toBe(SITES.length);
  });

  it("a heal's range transform and its checks as weather_heal", async (ctx) => {
    if (db.embedded) ctx.skip();
    const range = await transformRange(pgOpsPorts(poolAs("weather_heal")), {
      from: INTERVAL,
      to: INTERVAL,
      trigger: "heal",
    });
    expect(range.silver.mode).toBe("range");
    expect(range.goldChecks.checks.every((c) => c.passed)).toBe(true);
  });

  it("every role can tell the schema is current (each process asks before it starts)", async (ctx) => {
    if (db.embedded) ctx.skip();
    for (const role of ROLES) expect(await pendingMigrations(poolAs(role)), role).toEqual([]);
    // ...but migrating is the owner's: a role cannot even record a migration.
    expect(
      await sqlstateAs(
        "weather_heal",
        "insert into ops.schema_migrations (name, run_on) values ('x', now())",
      ),
    ).toBe(REFUSED);
  });
});

describe("each role is refused what other functions do", () => {
  it.each([
    ["weather_ingest", SILVER_ROW],
    ["weather_ingest", "delete from gold_internal.site_hourly"],
    ["weather_ingest", "update ops.transform_runs set status = 'failed'"],
    ["weather_ingest", "delete from bronze.weather_observations"],
    ["weather_transform", "delete from bronze.weather_observations"],
    ["weather_transform", BRONZE_ROW],
    ["weather_transform", "update ops.ingestion_runs set status = 'failed'"],
    ["weather_transform", "insert into ops.quality_check_runs (interval) values ('x')"],
    ["weather_checks", SILVER_ROW],
    ["weather_checks", "delete from gold_internal.site_daily"],
    ["weather_checks", BRONZE_ROW],
    ["weather_checks", "update ops.transform_runs set status = 'failed'"],
    ["weather_heal", "delete from bronze.weather_observations"],
    ["weather_heal", "create table gold_internal.t (x int)"],
    ["superset_reader", "select * from bronze.weather_observations"],
    ["superset_reader", "select * from silver.observations"],
  ] as const)("%s: %s", async (role, sql) => {
    expect(await sqlstateAs(role, sql)).toBe(REFUSED);
  });

  it("and may do its own writes (the same statements, as its role)", async () => {
    expect(await sqlstateAs("weather_ingest", BRONZE_ROW)).toBe("none");
    expect(await sqlstateAs("weather_transform", "delete from silver.observations")).toBe("none");
    expect(
      await sqlstateAs("weather_checks", "update ops.quality_check_runs set status = status where false"),
    ).toBe("none");
  });
});

describe("a deployment enables the roles it uses (weather migrate with DATABASE_ROLE_PASSWORDS)", () => {
  it("lets exactly the named roles log in; a bad entry is named, its value never", async (ctx) => {
    if (db.embedded) ctx.skip(); // PGlite has no logins
    // Prepare: superset_reader is cluster-wide and other suites may have enabled it; check one we name.
    const secret = "s3cret-Value-0123456789";
    const passwords = parseRolePasswords(JSON.stringify({ weather_checks: secret }));
    // Act
    expect(await enableRoles(db.pool, passwords)).toEqual(["weather_checks"]);
    // Assess
    const { rows } = await db.pool.query<{ can: boolean; hashed: boolean }>(
      "select rolcanlogin as can, (select passwd like 'SCRAM-SHA-256$%' from pg_shadow where usename = 'weather_checks') as hashed from pg_roles where rolname = 'weather_checks'",
    );
    expect(rows[0]).toEqual({ can: true, hashed: true });
    expect(() => parseRolePasswords('{"postgres":"0123456789abcdef"}')).toThrow(/unknown role "postgres"/);
    expect(() => parseRolePasswords('{"weather_heal":"short"}')).toThrow(/weather_heal must be a string/);
    expect(() => parseRolePasswords("weather_heal=abc")).toThrow(/not JSON/);
    let message = "";
    try {
      parseRolePasswords(`{"weather_heal":"${secret}","nobody":"${secret}"}`);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/unknown role "nobody"/);
    expect(message).not.toContain(secret);
  });
});
