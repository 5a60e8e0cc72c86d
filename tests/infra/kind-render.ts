/**
 * Writes infra-kind's Kubernetes objects as one manifest file per resource (JSON, which is YAML) into the
 * directory given as the only argument, for `checkov --framework kubernetes`. Used by scripts/test-iac.sh.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadKindHcl, renderKindManifests } from "./kind-hcl.ts";

const outDir = process.argv[2];
if (!outDir) {
  console.error("usage: tsx tests/infra/kind-render.ts OUT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const manifests = renderKindManifests(await loadKindHcl());
for (const { address, manifest } of manifests) {
  writeFileSync(join(outDir, `${address}.yaml`), `${JSON.stringify(manifest, null, 2)}\n`);
}
console.error(`kind-render: wrote ${manifests.length} manifests to ${outDir}`);
