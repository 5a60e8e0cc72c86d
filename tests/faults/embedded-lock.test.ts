/**
 * Fault: two processes on one embedded home (issue 10, item 1). Cron plus a manual command is the
 * normal case; PGlite allows one writer per directory, so before the home lock the second writer's
 * rows were silently lost. Proves: both runs land completely — bronze, silver and gold equal, by
 * full-row checksums, a home where the same hours ran one after the other — the waiting process says
 * whom it waits for, a killed holder blocks nobody, and a wait that runs out exits 1 with the reason.
 */
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireHomeLock } from "#core/adapters/home-lock.ts";
import { startWeather, weather } from "./support/cli.ts";
import { openWarehouse, warehouseChecksums } from "./support/warehouse.ts";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "wdo-fault-lock-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const HOURS = ["2026-11-23T01", "2026-11-23T02", "2026-11-23T03"];
const runArgs = (home: string, interval: string) => [
  "run",
  "--source",
  "simulator",
  "--home",
  home,
  "--interval",
  interval,
];

interface Snapshot {
  checksums: Awaited<ReturnType<typeof warehouseChecksums>>;
  bronzePerHour: Record<string, number>;
  runs: { run_id: string; status: string }[];
}

/**
 * Full-row checksums of every layer (less the load stamps: when, and from which raw object, a row
 * was loaded), rows per hour and the ingestion ledger, read from a home no process holds.
 */
async function snapshot(home: string): Promise<Snapshot> {
  const db = await openWarehouse({ home });
  try {
    const perHour = await db.pool.query<{ hour: string; n: number }>(
      `select to_char(observed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24') as hour, count(*)::int as n
         from bronze.weather_observations group by 1 order by 1`,
    );
    const runs = await db.pool.query<{ run_id: string; status: string }>(
      "select run_id, status from ops.ingestion_runs order by run_id",
    );
    return {
      checksums: await warehouseChecksums(db.pool, { lineage: false }),
      bronzePerHour: Object.fromEntries(perHour.rows.map((r) => [r.hour, r.n])),
      runs: runs.rows,
    };
  } finally {
    await db.close();
  }
}

describe("two writers on one embedded home", () => {
  it("waits for the first and loses nothing: equal to running the hours one after the other", async () => {
    const sequential = join(root, "sequential");
    for (const hour of HOURS) expect((await weather(runArgs(sequential, hour))).code).toBe(0);

    const concurrent = join(root, "concurrent");
    expect((await weather(runArgs(concurrent, HOURS[0] as string))).code).toBe(0);
    // Hold the home so both commands are certainly waiting when it frees up, then let them race.
    const held = await acquireHomeLock(join(concurrent, "pg"), { waitMs: 0, command: "test holder" });
    const a = startWeather(runArgs(concurrent, HOURS[1] as string));
    const b = startWeather(runArgs(concurrent, HOURS[2] as string));
    const waiting = `waiting for the process holding ${join(concurrent, "pg")} (pid ${process.pid}`;
    await Promise.all([a.stderrIncludes(waiting), b.stderrIncludes(waiting)]);
    await held.release();
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    // Whichever came second waited for the first, by pid.
    const second = ra.stderr.includes(`pid ${b.child.pid}`) ? ra : rb;
    const first = second === ra ? b : a;
    expect(second.stderr).toContain(
      `waiting for the process holding ${join(concurrent, "pg")} (pid ${process.pid}`,
    );
    expect(second.stderr).toContain(`(pid ${first.child.pid}, weather run`);

    const got = await snapshot(concurrent);
    const want = await snapshot(sequential);
    expect(got.bronzePerHour).toEqual({
      [HOURS[0] as string]: 22,
      [HOURS[1] as string]: 22,
      [HOURS[2] as string]: 22,
    });
    expect(got.runs).toEqual(HOURS.map((h) => ({ run_id: `simulator:${h}`, status: "succeeded" })));
    expect(got.checksums.find((c) => c.table === "bronze.weather_observations")?.rows).toBe(66);
    expect(got.checksums).toEqual(want.checksums);
    expect(got.bronzePerHour).toEqual(want.bronzePerHour);
    expect(got.runs).toEqual(want.runs);
  }, 600_000);

  it("takes over from a holder that was killed", async () => {
    const home = join(root, "killed");
    const holder = startWeather(runArgs(home, HOURS[0] as string));
    await holder.stderrIncludes("Ingesting"); // it holds the home now
    holder.child.kill("SIGKILL");
    await once(holder.child, "close");
    const next = await weather(["status", "--home", home, "--json"], {
      env: { WEATHER_LOCK_WAIT_MS: "60000" },
    });
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toHaveProperty("layers");
  }, 300_000);

  it("gives up after WEATHER_LOCK_WAIT_MS with exit 1, naming the holder, and one JSON document", async () => {
    const home = join(root, "timeout");
    const held = await acquireHomeLock(join(home, "pg"), { waitMs: 0, command: "test holder" });
    try {
      const res = await weather(["status", "--home", home, "--json"], {
        env: { WEATHER_LOCK_WAIT_MS: "1500" },
      });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`waiting for the process holding ${join(home, "pg")} (pid ${process.pid}`);
      expect(res.stderr).toMatch(/Gave up after \d+ s waiting for .*pid \d+.*WEATHER_LOCK_WAIT_MS/);
      const doc = JSON.parse(res.stdout);
      expect(doc).toMatchObject({ error: { name: "HomeLockTimeoutError" }, exitCode: 1 });
      expect(doc.error.message).toContain(`pid ${process.pid}`);
    } finally {
      await held.release();
    }
  }, 120_000);

  it("takes no lock when a database URL is given (Postgres has its own concurrency control)", async () => {
    const home = join(root, "url");
    const held = await acquireHomeLock(join(home, "pg"), { waitMs: 0 });
    try {
      // Nothing listens on port 9: the command must fail connecting, not wait for the home lock.
      const res = await weather(["status", "--home", home, "--db", "postgres://u@127.0.0.1:9/x"], {
        env: { WEATHER_LOCK_WAIT_MS: "600000" },
      });
      expect(res.code).not.toBe(0);
      expect(res.stderr).not.toContain("waiting for the process holding");
    } finally {
      await held.release();
    }
  }, 120_000);
});
