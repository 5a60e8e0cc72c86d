/**
 * Structural checks of the Dockerfile and .dockerignore: a pinned multi-stage build whose runtime stage
 * holds production dependencies only, runs as a non-root user, carries no secrets, and starts the same
 * CLI the Kind CronJob calls. (No Docker engine here: the build itself is exercised by a user with Docker.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadKindHcl, renderKindManifests } from "./kind-hcl.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  body: Instruction[];
}

/** Joins continuation lines, drops comments, and groups instructions by FROM stage. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let acc = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#") && !acc) continue;
    if (line.endsWith("\\")) {
      acc += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(acc + line);
    acc = "";
  }
  const stages: Stage[] = [];
  for (const line of logical.filter((l) => l.trim())) {
    const [, op = "", args = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === "FROM") {
      const [from = "", , name] = args.split(/\s+/);
      stages.push({ from, name, body: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile: ${op} before the first FROM`);
      stage.body.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

let stages: Stage[];
let runtime: Stage;
let dockerignore: string[];

beforeAll(() => {
  stages = parseDockerfile(readFileSync(join(REPO, "Dockerfile"), "utf8"));
  const last = stages.at(-1);
  if (!last) throw new Error("Dockerfile has no stage");
  runtime = last;
  dockerignore = readFileSync(join(REPO, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
});

const ops = (stage: Stage, op: string) => stage.body.filter((i) => i.op === op);

describe("Dockerfile", () => {
  it("is multi-stage, every stage from Node 24 slim pinned by exact version", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      expect(s.from).toMatch(/^node:24\.\d+\.\d+-(bookworm-|trixie-)?slim(@sha256:[0-9a-f]{64})?$/);
    }
  });

  it("installs exactly the lockfile's production dependencies in a build stage, not at run time", () => {
    const build = stages.slice(0, -1);
    const installs = build.flatMap((s) => ops(s, "RUN")).map((i) => i.args);
    expect(installs.some((a) => /\bnpm ci\b/.test(a) && /--omit=dev\b/.test(a))).toBe(true);
    expect(ops(runtime, "RUN").some((i) => /\bnpm (ci|install|i)\b/.test(i.args))).toBe(false);
    expect(ops(runtime, "COPY").some((i) => /--from=\S+\s+\S*node_modules/.test(i.args))).toBe(true);
  });

  it("runs as a non-root user", () => {
    const user = ops(runtime, "USER").at(-1)?.args ?? "root";
    expect(user.split(":")[0]).not.toMatch(/^(root|0)$/);
  });

  it("carries no secrets in ENV or ARG", () => {
    const declared = stages.flatMap((s) => [...ops(s, "ENV"), ...ops(s, "ARG")]).map((i) => i.args);
    for (const d of declared) expect(d).not.toMatch(/PASSWORD|SECRET|TOKEN|API_KEY|DATABASE_URL|AWS_ACCESS/i);
  });

  it("starts the weather CLI, and each Kind CronJob's command is that entrypoint plus a subcommand", async () => {
    const entrypoint = JSON.parse(ops(runtime, "ENTRYPOINT").at(-1)?.args ?? "null");
    expect(entrypoint).toEqual(["node", "bin/weather.js"]);
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    expect(pkg.bin.weather).toBe(entrypoint[1]);
    const crons = renderKindManifests(await loadKindHcl()).filter((m) => m.manifest.kind === "CronJob");
    expect(crons.map((c) => c.address).sort()).toEqual([
      "kubernetes_cron_job_v1.heal",
      "kubernetes_cron_job_v1.ingest",
    ]);
    for (const cron of crons) {
      const command: string[] = cron.manifest.spec.jobTemplate.spec.template.spec.containers[0].command;
      expect(command.slice(0, entrypoint.length)).toEqual(entrypoint);
      expect(command[entrypoint.length]).toMatch(/^(ingest|run|heal)$/);
    }
  });
});

describe(".dockerignore", () => {
  it("is an allow-list that admits what the CLI loads and never tests, state or env files", () => {
    expect(dockerignore[0]).toBe("*");
    const admitted = dockerignore.filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
    for (const needed of [
      "package.json",
      "package-lock.json",
      "bin",
      "cli",
      "core",
      "sql",
      "config",
      "simulator",
    ]) {
      expect(admitted).toContain(needed);
    }
    for (const never of ["tests", ".weather", ".env", "node_modules", "infra-kind", ".git"]) {
      expect(admitted).not.toContain(never);
    }
    expect(dockerignore).toContain("**/.env");
  });
});
