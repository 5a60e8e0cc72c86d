import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, staleViews, VIEWS_DIR, viewFiles } from "#core/db/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const views = viewFiles();

async function viewdefs(db: TestDatabase): Promise<Record<string, string>> {
  const { rows } = await db.pool.query<{ name: string; def: string }>(
    "select viewname as name, definition as def from pg_views where schemaname = 'gold' order by 1",
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.def]));
}

describe("sql/views: the gold views' source of truth", () => {
  let db: TestDatabase;
  let migrationsOnly: TestDatabase;
  let tmp: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    tmp = mkdtempSync(join(tmpdir(), "views-"));
    migrationsOnly = await createTestDatabase({ migrate: false });
    await migrate(migrationsOnly.pool, undefined, { viewsDir: mkdtempSync(join(tmpdir(), "no-views-")) });
  });
  afterAll(async () => {
    await db?.destroy();
    await migrationsOnly?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("has one file per gold view, and migrations leave exactly those definitions (0041's)", async () => {
    const fromMigrations = await viewdefs(migrationsOnly);
    expect(views.map((v) => v.name)).toEqual(Object.keys(fromMigrations));
    expect(await viewdefs(db)).toEqual(fromMigrations);
  });

  it("each gold view's definition equals its file's", async () => {
    const client = await db.pool.connect();
    try {
      for (const v of views) {
        const temp = v.sql.replace(
          `create or replace view gold.${v.name} as`,
          `create temp view ${v.name}_file as`,
        );
        expect(temp).not.toBe(v.sql);
        await client.query(temp);
        const { rows } = await client.query<{ a: string; b: string }>(
          "select pg_get_viewdef($1::regclass) as a, pg_get_viewdef($2::regclass) as b",
          [`gold.${v.name}`, `pg_temp.${v.name}_file`],
        );
        expect(rows[0]?.a, v.name).toBe(rows[0]?.b);
      }
    } finally {
      client.release(true);
    }
    expect(await staleViews(db.pool)).toEqual([]);
  });

  it("applies a changed view file on the next start, with no migration pending", async () => {
    for (const v of views) writeFileSync(join(tmp, `${v.name}.sql`), v.sql);
    const target = views.find((v) => v.name === "v_data_freshness");
    if (!target) throw new Error("v_data_freshness.sql missing");
    const body = target.sql.slice(target.sql.indexOf(" as\n") + 4).replace(/;\s*$/, "");
    writeFileSync(
      join(tmp, "v_data_freshness.sql"),
      `create or replace view gold.v_data_freshness as\nselect * from (\n${body}\n) as f where 1 = 1;\n`,
    );
    expect((await staleViews(db.pool, tmp)).map((v) => v.name)).toEqual(["v_data_freshness"]);
    expect(await migrate(db.pool, undefined, { viewsDir: tmp })).toEqual([]);
    expect((await viewdefs(db)).v_data_freshness).toMatch(/1 = 1/);
    expect(await staleViews(db.pool, tmp)).toEqual([]);
    // Back to the repository's files: stale again, and applied again.
    expect((await staleViews(db.pool, VIEWS_DIR)).map((v) => v.name)).toEqual(["v_data_freshness"]);
    await migrate(db.pool);
    expect((await viewdefs(db)).v_data_freshness).not.toMatch(/1 = 1/);
  });
});
