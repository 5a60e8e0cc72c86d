/**
 * Builds the embedded default's start template (core/adapters/embedded-database.ts
 * `buildEmbeddedTemplate`) in WEATHER_CACHE_DIR, so the first `npm run pipeline` on a fresh home copies
 * a migrated database instead of running initdb and every migration. Run by `npm ci` (postinstall)
 * through scripts/postinstall.mjs; by hand: `npx tsx scripts/embedded-template.ts`.
 * Does nothing when the template for this PGlite and these migrations exists, or WEATHER_CACHE_DIR=off.
 */
import { existsSync } from "node:fs";
import { buildEmbeddedTemplate, embeddedTemplatePath } from "#core/adapters/embedded-database.ts";
import { embeddedTemplateCache, loadConfig } from "#core/config/env.ts";

const cache = embeddedTemplateCache(loadConfig());
const say = (text: string) => process.stderr.write(`embedded template: ${text}\n`);
if (!cache) say("WEATHER_CACHE_DIR=off, skipped");
else if (existsSync(embeddedTemplatePath(cache))) say(`${embeddedTemplatePath(cache)} is current`);
else {
  const t = performance.now();
  const dir = await buildEmbeddedTemplate(cache);
  say(`built ${dir} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
