/**
 * Reads infra-kind/*.tf with @cdktf/hcl2json and renders the Kubernetes objects they declare as plain
 * manifests, so tests and checkov's kubernetes framework can inspect what the cluster would receive
 * (providers cannot be downloaded here, so `terraform plan` is not available).
 *
 * The evaluator covers only the expression forms infra-kind uses (variable defaults, locals, resource
 * name references, tostring/urlencode) and throws on anything else, so a new construct in the .tf
 * files fails loudly instead of rendering something wrong. Generated values (random_password) render
 * as a `<generated:...>` placeholder.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "@cdktf/hcl2json";

export const KIND_DIR = fileURLToPath(new URL("../../infra-kind", import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: hcl2json returns untyped JSON.
type Json = any;

/** Block arrays as hcl2json emits them: `{ type: { name: [ {...body} ] } }`. */
export interface KindHcl {
  /** File name -> raw text, for plain-text scans (no literal secrets). */
  files: Record<string, string>;
  terraform: Json[];
  variables: Record<string, Json>;
  locals: Record<string, Json>;
  resources: Record<string, Record<string, Json>>;
  outputs: Record<string, Json>;
  providers: Record<string, Json>;
}

/** Parses every .tf file of `dir` (HCL errors carry file:line:col) and merges them. */
export async function loadKindHcl(dir: string = KIND_DIR): Promise<KindHcl> {
  const out: KindHcl = {
    files: {},
    terraform: [],
    variables: {},
    locals: {},
    resources: {},
    outputs: {},
    providers: {},
  };
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith(".tf"))
    .sort()) {
    const text = readFileSync(join(dir, name), "utf8");
    out.files[name] = text;
    const doc: Json = await parse(name, text);
    out.terraform.push(...(doc.terraform ?? []));
    for (const [k, v] of Object.entries(doc.variable ?? {})) out.variables[k] = (v as Json[])[0];
    for (const block of doc.locals ?? []) Object.assign(out.locals, block);
    for (const [k, v] of Object.entries(doc.output ?? {})) out.outputs[k] = (v as Json[])[0];
    for (const [k, v] of Object.entries(doc.provider ?? {})) out.providers[k] = (v as Json[])[0];
    for (const [type, byName] of Object.entries(doc.resource ?? {})) {
      out.resources[type] ??= {};
      for (const [name, body] of Object.entries(byName as Record<string, Json[]>)) {
        out.resources[type][name] = body[0];
      }
    }
  }
  return out;
}

/** The single resource of `type` named `name`; throws naming what is missing. */
export function resource(hcl: KindHcl, type: string, name: string): Json {
  const r = hcl.resources[type]?.[name];
  if (!r) throw new Error(`infra-kind declares no ${type}.${name}; update the test if it was renamed`);
  return r;
}

/** A nested block, e.g. block(r, "spec", "template", "spec"): hcl2json wraps every block in an array. */
export function block(node: Json, ...path: string[]): Json {
  let cur = node;
  for (const key of path) {
    const next = cur?.[key];
    if (next === undefined) throw new Error(`missing block ${path.join(".")} (at ${key})`);
    cur = Array.isArray(next) ? next[0] : next;
  }
  return cur;
}

/** Splits a template into literal text and `${...}` expressions, honouring nested braces and quotes. */
function splitTemplate(s: string): Array<{ lit: string } | { expr: string }> {
  const parts: Array<{ lit: string } | { expr: string }> = [];
  let i = 0;
  let lit = "";
  while (i < s.length) {
    if (s.startsWith("${", i)) {
      let depth = 1;
      let j = i + 2;
      let inString = false;
      while (j < s.length && depth > 0) {
        const c = s[j];
        if (inString) {
          if (c === "\\") j++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === "{") depth++;
        else if (c === "}") depth--;
        j++;
      }
      if (depth !== 0) throw new Error(`unbalanced interpolation in ${JSON.stringify(s)}`);
      if (lit) parts.push({ lit });
      lit = "";
      parts.push({ expr: s.slice(i + 2, j - 1).trim() });
      i = j;
    } else {
      lit += s[i];
      i++;
    }
  }
  if (lit) parts.push({ lit });
  return parts;
}

/** Evaluates values with every variable at its default (overridable) — the configuration a fresh apply gets. */
export class KindEvaluator {
  constructor(
    private readonly hcl: KindHcl,
    private readonly overrides: Record<string, unknown> = {},
  ) {}

  value(v: Json): Json {
    if (typeof v === "string") return this.template(v);
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (v && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.value(x)]));
    return v;
  }

  private template(s: string): Json {
    const parts = splitTemplate(s);
    const only = parts[0];
    if (parts.length === 1 && only && "expr" in only) return this.expr(only.expr);
    return parts.map((p) => ("lit" in p ? p.lit : String(this.expr(p.expr)))).join("");
  }

  private expr(e: string): Json {
    let m = /^tostring\((.+)\)$/.exec(e);
    if (m?.[1]) return String(this.expr(m[1]));
    m = /^urlencode\((.+)\)$/.exec(e);
    if (m?.[1]) return encodeURIComponent(String(this.expr(m[1])));
    m = /^var\.([a-z0-9_]+)((?:\.[a-z0-9_]+)*)$/.exec(e);
    if (m?.[1]) {
      const name = m[1];
      if (!(name in this.hcl.variables)) throw new Error(`unknown variable var.${name}`);
      let val: Json = name in this.overrides ? this.overrides[name] : this.hcl.variables[name].default;
      for (const key of (m[2] ?? "").split(".").filter(Boolean)) val = val?.[key];
      if (val === undefined) throw new Error(`var.${name}${m[2]} has no default`);
      return val;
    }
    m = /^local\.([a-z0-9_]+)$/.exec(e);
    if (m?.[1]) {
      if (!(m[1] in this.hcl.locals)) throw new Error(`unknown local.${m[1]}`);
      return this.value(this.hcl.locals[m[1]]);
    }
    m = /^([a-z0-9_]+)\.([a-z0-9_]+)\.metadata\[0\]\.name$/.exec(e);
    if (m?.[1] && m[2]) return this.value(block(resource(this.hcl, m[1], m[2]), "metadata").name);
    m = /^random_password\.([a-z0-9_]+)\.result$/.exec(e);
    if (m?.[1]) return `<generated:random_password.${m[1]}>`;
    throw new Error(`kind-hcl cannot evaluate \${${e}}; extend KindEvaluator if infra-kind now needs it`);
  }
}

// Terraform block names whose Kubernetes field is a list (the provider names them in the singular).
const LIST_BLOCKS: Record<string, string> = {
  container: "containers",
  init_container: "initContainers",
  env: "env",
  env_from: "envFrom",
  port: "ports",
  volume: "volumes",
  volume_mount: "volumeMounts",
  items: "items",
  toleration: "tolerations",
  ingress: "ingress",
  egress: "egress",
  from: "from",
  to: "to",
  ports: "ports",
};
// Provider-only arguments with no Kubernetes counterpart.
const PROVIDER_ONLY = new Set(["wait_until_bound", "wait_for_rollout", "wait_for_load_balancer"]);
const IRREGULAR: Record<string, string> = { cluster_ip: "clusterIP", external_ip: "externalIP" };
const camel = (k: string) => IRREGULAR[k] ?? k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** Terraform resource body -> Kubernetes object body. Blocks are arrays of objects; map attributes stay as is. */
function toK8s(body: Json): Json {
  const out: Json = {};
  for (const [key, raw] of Object.entries(body)) {
    if (PROVIDER_ONLY.has(key)) continue;
    const isBlock = Array.isArray(raw) && raw.length > 0 && raw.every((x) => x && typeof x === "object");
    if (isBlock) {
      const listName = LIST_BLOCKS[key];
      if (listName) out[listName] = (raw as Json[]).map(toK8s);
      else out[camel(key)] = toK8s((raw as Json[])[0]);
    } else if (key === "default_mode" || key === "mode") {
      out[camel(key)] = Number.parseInt(String(raw), 8); // the provider takes octal strings ("0440")
    } else {
      out[camel(key)] = raw;
    }
  }
  return out;
}

const KINDS: Record<string, { apiVersion: string; kind: string }> = {
  kubernetes_namespace_v1: { apiVersion: "v1", kind: "Namespace" },
  kubernetes_secret_v1: { apiVersion: "v1", kind: "Secret" },
  kubernetes_config_map_v1: { apiVersion: "v1", kind: "ConfigMap" },
  kubernetes_persistent_volume_claim_v1: { apiVersion: "v1", kind: "PersistentVolumeClaim" },
  kubernetes_service_v1: { apiVersion: "v1", kind: "Service" },
  kubernetes_stateful_set_v1: { apiVersion: "apps/v1", kind: "StatefulSet" },
  kubernetes_cron_job_v1: { apiVersion: "batch/v1", kind: "CronJob" },
  kubernetes_job_v1: { apiVersion: "batch/v1", kind: "Job" },
  kubernetes_network_policy_v1: { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" },
};

export interface RenderedManifest {
  address: string;
  manifest: Json;
}

/** Every Kubernetes resource of infra-kind as a manifest; throws on a kubernetes_* type it does not know. */
export function renderKindManifests(
  hcl: KindHcl,
  overrides: Record<string, unknown> = {},
): RenderedManifest[] {
  const ev = new KindEvaluator(hcl, overrides);
  const rendered: RenderedManifest[] = [];
  for (const [type, byName] of Object.entries(hcl.resources)) {
    if (!type.startsWith("kubernetes_")) continue;
    const meta = KINDS[type];
    if (!meta) throw new Error(`kind-hcl cannot render ${type}; add it to KINDS`);
    for (const [name, body] of Object.entries(byName)) {
      // Meta-arguments (depends_on, lifecycle) and the provider's own settings (a Job's
      // wait_for_completion, timeouts) are Terraform's, not the object's: drop them before evaluating.
      const { depends_on: _d, lifecycle: _l, wait_for_completion: _w, timeouts: _t, ...spec } = body;
      const k8s = toK8s(ev.value(spec));
      // The provider's `data` is plain text it encodes itself: as a manifest that is `stringData`.
      if (meta.kind === "Secret" && k8s.data) {
        k8s.stringData = k8s.data;
        delete k8s.data;
      }
      rendered.push({ address: `${type}.${name}`, manifest: { ...meta, ...k8s } });
    }
  }
  return rendered;
}
