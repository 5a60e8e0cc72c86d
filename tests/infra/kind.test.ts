/**
 * Structural checks of infra-kind/: what must hold for the Kind stack to be safe and to work, read from
 * the HCL itself (hcl2json) and from the manifests it renders (tests/infra/kind-hcl.ts). Providers
 * cannot be downloaded here, so this stands in for `terraform validate` / `plan` on the parts that matter.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" here is Terraform interpolation text, compared literally.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { beforeAll, describe, expect, it } from "vitest";
import {
  block,
  KIND_DIR,
  type KindHcl,
  loadKindHcl,
  type RenderedManifest,
  renderKindManifests,
  resource,
} from "./kind-hcl.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: manifests are plain JSON.
type Json = any;

let hcl: KindHcl;
let manifests: RenderedManifest[];
const manifest = (address: string): Json => {
  const m = manifests.find((x) => x.address === address);
  if (!m) throw new Error(`infra-kind renders no ${address}`);
  return m.manifest;
};
const podSpecOf = (address: string): Json => {
  const m = manifest(address);
  return m.kind === "CronJob" ? m.spec.jobTemplate.spec.template.spec : m.spec.template.spec;
};

beforeAll(async () => {
  // Prepare: parse every .tf (a syntax error fails here with file:line:col) and render the manifests.
  hcl = await loadKindHcl();
  manifests = renderKindManifests(hcl);
});

describe("providers and variables", () => {
  it("pins the three providers to exact versions", () => {
    const required = Object.assign({}, ...hcl.terraform.flatMap((t) => t.required_providers ?? []));
    expect(Object.keys(required).sort()).toEqual(["kind", "kubernetes", "random"]);
    expect(required.kind.source).toBe("tehcyx/kind");
    expect(required.kubernetes.source).toBe("hashicorp/kubernetes");
    expect(required.random.source).toBe("hashicorp/random");
    for (const [name, p] of Object.entries<Json>(required)) {
      expect(p.version, `${name} must be pinned exactly (no ~>, >=)`).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it("types and describes every variable, and validates every non-secret one", () => {
    for (const [name, v] of Object.entries<Json>(hcl.variables)) {
      expect(v.type, `var.${name} has no type`).toBeTruthy();
      expect(v.description, `var.${name} has no description`).toBeTruthy();
      if (!v.sensitive) expect(v.validation?.length ?? 0, `var.${name} has no validation`).toBeGreaterThan(0);
    }
  });
});

describe("Kind cluster", () => {
  it("publishes the Postgres NodePort on the host's loopback", () => {
    const node = block(resource(hcl, "kind_cluster", "this"), "kind_config", "node");
    const mapping = block(node, "extra_port_mappings");
    const service = manifest("kubernetes_service_v1.postgres");
    // Assess: the mapping's container port is the Service's NodePort, on 127.0.0.1 only.
    expect(mapping.container_port).toBe("${var.postgres_node_port}");
    expect(mapping.host_port).toBe("${var.postgres_host_port}");
    expect(mapping.listen_address).toBe("127.0.0.1");
    expect(service.spec.type).toBe("NodePort");
    expect(service.spec.ports[0].nodePort).toBe(hcl.variables.postgres_node_port.default);
    expect(service.spec.selector).toEqual(
      manifest("kubernetes_stateful_set_v1.postgres").spec.selector.matchLabels,
    );
  });

  it("puts everything in a non-default namespace that enforces the restricted Pod Security Standard", () => {
    const ns = manifest("kubernetes_namespace_v1.weather");
    expect(ns.metadata.name).not.toBe("default");
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    for (const { address, manifest: m } of manifests) {
      if (m.kind !== "Namespace") expect(m.metadata.namespace, address).toBe(ns.metadata.name);
    }
  });
});

describe("secrets", () => {
  it("takes the Postgres password from random_password and keeps it in a Secret", () => {
    const secret = resource(hcl, "kubernetes_secret_v1", "postgres");
    expect(secret.data.POSTGRES_PASSWORD).toBe("${random_password.postgres.result}");
    expect(secret.data.DATABASE_URL).toContain("${urlencode(random_password.postgres.result)}");
    expect(resource(hcl, "random_password", "postgres").length).toBeGreaterThanOrEqual(24);
  });

  it("never writes a credential as a literal in any .tf or YAML file", () => {
    const files = readdirSync(KIND_DIR).filter((f) => /\.(tf|tfvars|ya?ml)$/.test(f));
    const credentialKey = /(pass(word)?|secret|token|api_?key)\s*[=:]\s*"([^"]*)"/gi;
    const urlWithPassword = /postgres(?:ql)?:\/\/[^:/\s"]+:([^@\s"]+)@/gi;
    const offenders: string[] = [];
    for (const f of files) {
      const text = readFileSync(join(KIND_DIR, f), "utf8");
      for (const m of text.matchAll(credentialKey)) {
        const value = m[3] ?? "";
        // Allowed: an interpolation, a file path, or empty (an unset optional key).
        if (value !== "" && !value.startsWith("${") && !value.startsWith("/"))
          offenders.push(`${f}: ${m[0]}`);
      }
      for (const m of text.matchAll(urlWithPassword)) {
        if (!(m[1] ?? "").startsWith("${")) offenders.push(`${f}: ${m[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("marks every output carrying the password as sensitive, and offers a ready DATABASE_URL", () => {
    for (const [name, o] of Object.entries<Json>(hcl.outputs)) {
      if (JSON.stringify(o.value).includes("random_password"))
        expect(o.sensitive, `output ${name}`).toBe(true);
    }
    const url = hcl.outputs.database_url;
    expect(url.value).toMatch(
      /^postgres:\/\/\$\{var\.postgres_user\}:\$\{urlencode\(random_password\.postgres\.result\)\}@127\.0\.0\.1:\$\{var\.postgres_host_port\}\/\$\{var\.postgres_db\}$/,
    );
    expect(hcl.variables.openweather_api_key.sensitive).toBe(true);
  });

  it("keeps credentials out of the ConfigMap", () => {
    const data = manifest("kubernetes_config_map_v1.ingest").data;
    for (const key of Object.keys(data))
      expect(key).not.toMatch(/PASSWORD|SECRET|TOKEN|API_KEY|DATABASE_URL/);
  });
});

describe("Postgres StatefulSet", () => {
  it("pins the image by exact tag", () => {
    const [container] = podSpecOf("kubernetes_stateful_set_v1.postgres").containers;
    expect(container.image).toMatch(/^postgres:\d+\.\d+-(bookworm|trixie)(@sha256:[0-9a-f]{64})?$/);
  });

  it("has readiness and liveness probes running pg_isready", () => {
    const [container] = podSpecOf("kubernetes_stateful_set_v1.postgres").containers;
    for (const probe of ["readinessProbe", "livenessProbe"]) {
      expect(container[probe]?.exec?.command?.[0], probe).toBe("pg_isready");
      expect(container[probe].periodSeconds, probe).toBeGreaterThan(0);
    }
  });

  it("stores data on the PVC, with a read-only root filesystem and writable emptyDirs", () => {
    const pod = podSpecOf("kubernetes_stateful_set_v1.postgres");
    const [container] = pod.containers;
    const mounts = Object.fromEntries(container.volumeMounts.map((m: Json) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries(pod.volumes.map((v: Json) => [v.name, v]));
    expect(volumes[mounts["/var/lib/postgresql/data"]].persistentVolumeClaim.claimName).toBe(
      manifest("kubernetes_persistent_volume_claim_v1.postgres_data").metadata.name,
    );
    expect(volumes[mounts["/var/run/postgresql"]].emptyDir).toBeDefined();
    expect(volumes[mounts["/tmp"]].emptyDir).toBeDefined();
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    const env = Object.fromEntries(container.env.map((e: Json) => [e.name, e.value]));
    expect(env.PGDATA).toMatch(/^\/var\/lib\/postgresql\/data\/.+/);
    expect(env.POSTGRES_PASSWORD).toBeUndefined();
    expect(env.POSTGRES_PASSWORD_FILE).toMatch(/^\/run\/secrets\//);
  });
});

describe("workloads (Postgres, the ingest and the heal)", () => {
  const workloads = [
    "kubernetes_stateful_set_v1.postgres",
    "kubernetes_cron_job_v1.ingest",
    "kubernetes_cron_job_v1.heal",
  ];

  it.each(workloads)("%s sets CPU and memory requests and limits", (address) => {
    for (const c of podSpecOf(address).containers) {
      for (const kind of ["requests", "limits"]) {
        expect(c.resources?.[kind]?.cpu, `${c.name} ${kind}.cpu`).toBeTruthy();
        expect(c.resources?.[kind]?.memory, `${c.name} ${kind}.memory`).toBeTruthy();
      }
    }
  });

  it.each(workloads)("%s runs non-root with no privilege escalation and no capabilities", (address) => {
    const pod = podSpecOf(address);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.securityContext.fsGroup).toBeGreaterThan(0);
    expect(pod.securityContext.seccompProfile.type).toBe("RuntimeDefault");
    expect(pod.automountServiceAccountToken).toBe(false);
    for (const c of pod.containers) {
      expect(c.securityContext.allowPrivilegeEscalation, c.name).toBe(false);
      expect(c.securityContext.runAsNonRoot, c.name).toBe(true);
      expect(c.securityContext.readOnlyRootFilesystem, c.name).toBe(true);
      expect(c.securityContext.capabilities.drop, c.name).toEqual(["ALL"]);
      expect(c.securityContext.privileged ?? false, c.name).toBe(false);
    }
  });
});

describe("ingest CronJob", () => {
  it("runs hourly, one at a time, with bounded retries, deadlines and history", () => {
    const spec = manifest("kubernetes_cron_job_v1.ingest").spec;
    const [minute, hour, ...rest] = spec.schedule.split(/\s+/);
    expect(minute).toMatch(/^\d{1,2}$/);
    expect([hour, ...rest]).toEqual(["*", "*", "*", "*"]);
    expect(spec.concurrencyPolicy).toBe("Forbid");
    expect(spec.startingDeadlineSeconds).toBeGreaterThan(0);
    expect(spec.successfulJobsHistoryLimit).toBeGreaterThan(0);
    expect(spec.failedJobsHistoryLimit).toBeGreaterThan(0);
    const job = spec.jobTemplate.spec;
    expect(job.backoffLimit).toBeGreaterThanOrEqual(0);
    expect(job.backoffLimit).toBeLessThanOrEqual(6);
    expect(job.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(job.activeDeadlineSeconds).toBeLessThan(3600);
    expect(job.template.spec.restartPolicy).toBe("Never");
  });

  it("runs the weather CLI's ingest with --json from the project's image", () => {
    const [container] = podSpecOf("kubernetes_cron_job_v1.ingest").containers;
    expect(container.command).toEqual(["node", "bin/weather.js", "ingest", "--json"]);
    expect(container.image).toBe(hcl.variables.ingest_image.default);
    expect(container.image).not.toMatch(/:latest$/);
    expect(container.imagePullPolicy).toBe("IfNotPresent");
  });

  it("takes DATABASE_URL (as weather_ingest) from its own Secret and the rest from a ConfigMap of known env names", () => {
    const [container] = podSpecOf("kubernetes_cron_job_v1.ingest").containers;
    const dbUrl = container.env.find((e: Json) => e.name === "DATABASE_URL");
    expect(dbUrl.valueFrom.secretKeyRef).toEqual({
      name: manifest("kubernetes_secret_v1.ingest_database").metadata.name,
      key: "DATABASE_URL",
    });
    expect(manifest("kubernetes_secret_v1.ingest_database").stringData.DATABASE_URL).toMatch(
      /^postgres:\/\/weather_ingest:%3Cgenerated%3Arandom_password\.ingest_role%3E@/,
    );
    const configMap = manifest("kubernetes_config_map_v1.ingest");
    expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);
    // Every name must be one core/config/env.ts reads, or the ingest silently ignores it.
    const envSource = readFileSync(join(REPO, "core/config/env.ts"), "utf8");
    const known = new Set([...envSource.matchAll(/^\s{2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]));
    const names = [...Object.keys(configMap.data), ...container.env.map((e: Json) => e.name)];
    expect(names.filter((n) => !known.has(n))).toEqual([]);
    for (const required of [
      "WEATHER_SOURCE",
      "SITES_FILE",
      "RAW_STORE",
      "OPEN_METEO_CALLS_PER_MINUTE",
      "OPEN_METEO_CALLS_PER_HOUR",
      "OPEN_METEO_CALLS_PER_DAY",
      "OPENWEATHER_CALLS_PER_MINUTE",
      "OPENWEATHER_CALLS_PER_HOUR",
      "OPENWEATHER_CALLS_PER_DAY",
    ]) {
      expect(Object.keys(configMap.data)).toContain(required);
    }
    expect(existsSync(join(REPO, configMap.data.SITES_FILE))).toBe(true);
  });
});

describe("heal CronJob", () => {
  it("runs daily, one at a time, with bounded retries, a deadline under a day and history", () => {
    const spec = manifest("kubernetes_cron_job_v1.heal").spec;
    const [minute, hour, ...rest] = spec.schedule.split(/\s+/);
    expect(minute).toMatch(/^\d{1,2}$/);
    expect(hour).toMatch(/^\d{1,2}$/);
    expect(rest).toEqual(["*", "*", "*"]);
    // Not at the ingest's minute: the two would compete for the provider's rate limit.
    expect(minute).not.toBe(manifest("kubernetes_cron_job_v1.ingest").spec.schedule.split(/\s+/)[0]);
    expect(spec.concurrencyPolicy).toBe("Forbid");
    expect(spec.startingDeadlineSeconds).toBeGreaterThan(0);
    expect(spec.successfulJobsHistoryLimit).toBeGreaterThan(0);
    expect(spec.failedJobsHistoryLimit).toBeGreaterThan(0);
    const job = spec.jobTemplate.spec;
    expect(job.backoffLimit).toBeLessThanOrEqual(6);
    expect(job.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(job.activeDeadlineSeconds).toBeLessThan(86_400);
    expect(job.template.spec.restartPolicy).toBe("Never");
  });

  it("runs weather heal --days N --json with the ingest's image, env and raw volume", () => {
    const heal = podSpecOf("kubernetes_cron_job_v1.heal");
    const ingest = podSpecOf("kubernetes_cron_job_v1.ingest");
    const [container] = heal.containers;
    const [ingestContainer] = ingest.containers;
    expect(container.command).toEqual([
      "node",
      "bin/weather.js",
      "heal",
      "--days",
      String(hcl.variables.heal_days.default),
      "--json",
    ]);
    expect(container.image).toBe(ingestContainer.image);
    expect(container.imagePullPolicy).toBe("IfNotPresent");
    expect(container.envFrom).toEqual(ingestContainer.envFrom);
    // Its own role (weather_heal: ingest's, transform's and checks' grants), not the ingest's.
    expect(container.env.find((e: Json) => e.name === "DATABASE_URL").valueFrom.secretKeyRef).toEqual({
      name: manifest("kubernetes_secret_v1.heal_database").metadata.name,
      key: "DATABASE_URL",
    });
    expect(manifest("kubernetes_secret_v1.heal_database").stringData.DATABASE_URL).toMatch(
      /^postgres:\/\/weather_heal:%3Cgenerated%3Arandom_password\.heal_role%3E@/,
    );
    expect(container.volumeMounts).toEqual(ingestContainer.volumeMounts);
    expect(heal.volumes).toEqual(ingest.volumes);
  });

  it("may reach Postgres: the NetworkPolicy admits its pods", () => {
    const labels = manifest("kubernetes_cron_job_v1.heal").spec.jobTemplate.spec.template.metadata.labels;
    const from = manifest("kubernetes_network_policy_v1.postgres_ingress").spec.ingress[0].from;
    const admitted = from.filter(
      (f: Json) =>
        f.podSelector && Object.entries<string>(f.podSelector.matchLabels).every(([k, v]) => labels[k] === v),
    );
    expect(admitted).toHaveLength(1);
  });
});

describe("migrate Job", () => {
  it("runs weather migrate --json as the owner, enabling exactly the CronJobs' roles with their passwords", () => {
    const [container] = podSpecOf("kubernetes_job_v1.migrate").containers;
    expect(container.command).toEqual(["node", "bin/weather.js", "migrate", "--json"]);
    expect(container.image).toBe(hcl.variables.ingest_image.default);
    const ref = (name: string) => container.env.find((e: Json) => e.name === name)?.valueFrom.secretKeyRef;
    expect(ref("DATABASE_URL")).toEqual({
      name: manifest("kubernetes_secret_v1.postgres").metadata.name,
      key: "DATABASE_URL",
    });
    expect(ref("DATABASE_ROLE_PASSWORDS")).toEqual({
      name: manifest("kubernetes_secret_v1.database_roles").metadata.name,
      key: "DATABASE_ROLE_PASSWORDS",
    });
    // The JSON weather migrate parses (core/db/roles.ts), with the passwords the CronJobs' URLs carry.
    const passwords = JSON.parse(
      manifest("kubernetes_secret_v1.database_roles").stringData.DATABASE_ROLE_PASSWORDS,
    );
    expect(passwords).toEqual({
      weather_ingest: "<generated:random_password.ingest_role>",
      weather_heal: "<generated:random_password.heal_role>",
    });
  });

  it("completes before either CronJob exists, and may reach Postgres", () => {
    expect(resource(hcl, "kubernetes_job_v1", "migrate").wait_for_completion).toBe(true);
    for (const name of ["ingest", "heal"])
      expect(resource(hcl, "kubernetes_cron_job_v1", name).depends_on).toEqual([
        "${kubernetes_job_v1.migrate}",
      ]);
    const labels = manifest("kubernetes_job_v1.migrate").spec.template.metadata.labels;
    const from = manifest("kubernetes_network_policy_v1.postgres_ingress").spec.ingress[0].from;
    expect(
      from.filter(
        (f: Json) =>
          f.podSelector &&
          Object.entries<string>(f.podSelector.matchLabels).every(([k, v]) => labels[k] === v),
      ),
    ).toHaveLength(1);
  });
});

describe("rendered manifests", () => {
  const models: Record<string, new (data: Json) => { validate(): void }> = {
    Namespace,
    Secret,
    ConfigMap,
    PersistentVolumeClaim,
    Service,
    StatefulSet,
    CronJob,
    Job,
    NetworkPolicy,
  };

  it("are valid Kubernetes objects (kubernetes-models schemas)", () => {
    for (const { address, manifest: m } of manifests) {
      const Model = models[m.kind];
      expect(Model, `no model for ${m.kind}`).toBeDefined();
      expect(() => Model && new Model(m).validate(), address).not.toThrow();
    }
  });
});
