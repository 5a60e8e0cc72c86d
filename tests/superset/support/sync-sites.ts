/**
 * Loads the site dimension (silver.sites) from a sites file, so gold's names and countries are filled.
 * The CLI's ingest and transform do not write silver.sites yet; until they do, the Superset suite
 * does it here.   usage: npx tsx tests/superset/support/sync-sites.ts DATABASE_URL [SITES_FILE]
 */
import { openDatabase } from "#core/adapters/database.ts";
import { loadSites } from "#core/domain/sites.ts";
import { syncSites } from "#core/sql/sites.ts";

const [url, file = "config/sites.json"] = process.argv.slice(2);
if (!url) throw new Error("usage: sync-sites.ts DATABASE_URL [SITES_FILE]");
const db = openDatabase(url, { max: 1 });
try {
  const n = await syncSites(db.pool, await loadSites(file));
  process.stderr.write(`sync-sites: ${n} sites in silver.sites\n`);
} finally {
  await db.close();
}
