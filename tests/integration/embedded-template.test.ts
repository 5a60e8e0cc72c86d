/**
 * The embedded default's start template (core/adapters/embedded-database.ts): a fresh home copied from
 * it is the same database initdb plus every migration gives — same tables, columns, indexes, views,
 * constraints and grants, nothing left to migrate — and a home that already exists is never touched.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "#core/adapters/database.ts";
import {
  buildEmbeddedTemplate,
  embeddedTemplatePath,
  openEmbeddedDatabase,
} from "#core/adapters/embedded-database.ts";
import { migrate, pendingMigrations } from "#core/db/migrate.ts";

let scratch: string;
let cache: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "wdo-template-"));
  cache = join(scratch, "cache");
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** The schema as the catalog describes it, in a total order. */
async function schemaOf(db: Database): Promise<string[]> {
  const { rows } = await db.pool.query<{ line: string }>(
    `select 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type ||
            ' ' || is_nullable || ' ' || coalesce(column_default, '') as line
       from information_schema.columns where table_schema in ('bronze', 'silver', 'gold', 'gold_internal', 'ops')
     union all
     select 'index ' || schemaname || '.' || indexname || ' ' || indexdef from pg_indexes
       where schemaname in ('bronze', 'silver', 'gold', 'gold_internal', 'ops')
     union all
     select 'view ' || schemaname || '.' || viewname || ' ' || md5(definition) from pg_views
       where schemaname in ('gold', 'gold_internal', 'ops', 'silver', 'bronze')
     union all
     select 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
       from pg_constraint where connamespace::regnamespace::text in ('bronze', 'silver', 'gold', 'gold_internal', 'ops')
     union all
     select 'grant ' || grantee || ' ' || table_schema || '.' || table_name || ' ' || privilege_type
       from information_schema.role_table_grants where grantee <> 'postgres'
     union all
     select 'migration ' || name from ops.schema_migrations
     order by 1`,
  );
  return rows.map((r) => r.line);
}

describe("embedded start template", () => {
  it("starts a fresh home as initdb plus every migration would, with nothing left to migrate", async () => {
    // Prepare: the template, and a reference home built the slow way
    const template = await buildEmbeddedTemplate(cache);
    expect(template).toBe(embeddedTemplatePath(cache));
    const reference = await openEmbeddedDatabase(join(scratch, "reference"));
    let expected: string[];
    try {
      await migrate(reference.pool);
      expected = await schemaOf(reference);
    } finally {
      await reference.close();
    }
    // Act
    const home = join(scratch, "home", "pg");
    const db = await openEmbeddedDatabase(home, { templateDir: cache });
    try {
      // Assess: migrated already, and the same schema
      expect(await pendingMigrations(db.pool)).toEqual([]);
      expect(await migrate(db.pool)).toEqual([]);
      expect(await schemaOf(db)).toEqual(expected);
      expect(expected.length).toBeGreaterThan(100);
    } finally {
      await db.close();
    }
  });

  it("never copies over a home that exists, and without a template runs initdb", async () => {
    // Prepare: a home with a row in it
    const home = join(scratch, "kept", "pg");
    const first = await openEmbeddedDatabase(home, { templateDir: cache });
    await first.pool.query(
      "insert into ops.ingestion_runs (run_id, source, interval, started_at, status) values ('kept', 'simulator', '2026-11-24T01', now(), 'succeeded')",
    );
    await first.close();
    // Act: reopened with the template still there
    const again = await openEmbeddedDatabase(home, { templateDir: cache });
    try {
      // Assess
      const { rows } = await again.pool.query("select run_id from ops.ingestion_runs");
      expect(rows).toEqual([{ run_id: "kept" }]);
    } finally {
      await again.close();
    }
    // And a cache without this template (another PGlite or migrations): initdb, unmigrated.
    const empty = join(scratch, "empty-cache");
    const fresh = await openEmbeddedDatabase(join(scratch, "fresh", "pg"), { templateDir: empty });
    try {
      expect(existsSync(embeddedTemplatePath(empty))).toBe(false);
      expect((await pendingMigrations(fresh.pool)).length).toBeGreaterThan(0);
    } finally {
      await fresh.close();
    }
  });
});
