/**
 * In-memory fakes of the ports, for use-case tests of the paths a real adapter rarely takes (a raw
 * store that refuses a write, a database that drops mid-run). They keep the ports' contracts — raw is
 * append-only, `list` is sorted, bronze upserts by its key — so a test that passes on a fake says
 * something about the real adapters too; tests/integration covers those against S3/fs and Postgres.
 */
import { RawObjectExistsError } from "#core/adapters/raw-store-errors.ts";
import type { Interval } from "#core/domain/interval.ts";
import type {
  BronzeRepository,
  BronzeRow,
  CheckResult,
  CheckRunStart,
  IngestionRunRecord,
  LayerTransformOutput,
  OpsLedger,
  QuarantineEntry,
  RawStore,
  SiteOutcome,
  TransformRunStart,
  Warehouse,
} from "#core/ports.ts";

/** Decides whether a call fails: return an error to throw it, undefined to let the call through. */
export type FailWhen<A extends unknown[]> = (...args: A) => Error | undefined;

export interface MemoryRawStore extends RawStore {
  /** Text objects (`put`) and binary ones (`putBytes`) share one key space. */
  readonly objects: Map<string, string | Uint8Array>;
  /** Set to make `put` fail for some keys (e.g. a full disk, S3 throttling). */
  failPut?: FailWhen<[key: string]>;
}

export function memoryRawStore(): MemoryRawStore {
  const land = (key: string, body: string | Uint8Array) => {
    const error = store.failPut?.(key);
    if (error) throw error;
    if (store.objects.has(key)) throw new RawObjectExistsError(store.location, key);
    store.objects.set(key, body);
  };
  const store: MemoryRawStore = {
    location: "memory://raw",
    objects: new Map(),
    async put(key, body) {
      land(key, body);
    },
    async putBytes(key, body) {
      land(key, Uint8Array.from(body)); // a copy: the caller may reuse its buffer
    },
    async get(key) {
      const body = store.objects.get(key);
      if (body === undefined) throw new Error(`no raw object ${key} in ${store.location}`);
      return typeof body === "string" ? body : new TextDecoder().decode(body);
    },
    async getBytes(key) {
      const body = store.objects.get(key);
      if (body === undefined) throw new Error(`no raw object ${key} in ${store.location}`);
      return typeof body === "string" ? new TextEncoder().encode(body) : Uint8Array.from(body);
    },
    async list(prefix) {
      return [...store.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    },
  };
  return store;
}

export interface MemoryBronze extends BronzeRepository {
  readonly rows: Map<string, BronzeRow>;
  readonly quarantined: QuarantineEntry[];
  readonly runs: Map<string, { run: IngestionRunRecord; sites: SiteOutcome[] }>;
  /** Set to make `upsertObservations` fail for some calls (e.g. the connection dropped). */
  failUpsert?: FailWhen<[rows: BronzeRow[]]>;
}

/** The bronze key, as the table's primary key spells it. */
const keyOf = (r: BronzeRow) => `${r.siteId}|${r.source}|${r.observedAt.toISOString()}|${r.kind}`;

/** Outcomes by site, later ones replacing earlier ones (the adapter's upsert). */
function mergeSites(prior: SiteOutcome[], next: SiteOutcome[]): SiteOutcome[] {
  const bySite = new Map(prior.map((s) => [s.siteId, s]));
  for (const s of next) bySite.set(s.siteId, s);
  return [...bySite.values()].sort((a, b) => a.siteId.localeCompare(b.siteId));
}

export function memoryBronze(): MemoryBronze {
  const bronze: MemoryBronze = {
    rows: new Map(),
    quarantined: [],
    runs: new Map(),
    async upsertSites() {},
    async upsertObservations(rows) {
      const error = bronze.failUpsert?.(rows);
      if (error) throw error;
      let changed = 0;
      for (const row of rows) {
        const prior = bronze.rows.get(keyOf(row));
        if (prior && JSON.stringify(prior.payload) === JSON.stringify(row.payload)) continue;
        bronze.rows.set(keyOf(row), row);
        changed += 1;
      }
      return changed;
    },
    async quarantine(entries) {
      bronze.quarantined.push(...entries);
    },
    async startRun(run) {
      bronze.runs.set(run.runId, { run, sites: [] });
    },
    async finishRun(run, sites) {
      // The ledger adds each attempt's calls to the run's count and upserts site outcomes, as the
      // Postgres adapter does.
      const prior = bronze.runs.get(run.runId);
      const weightedCalls = (prior?.run.weightedCalls ?? 0) + (run.weightedCalls ?? 0);
      bronze.runs.set(run.runId, {
        run: { ...run, weightedCalls },
        sites: mergeSites(prior?.sites ?? [], sites),
      });
    },
    async leaseRun(runId) {
      if (bronze.runs.get(runId)?.run.status !== "running")
        throw new Error(`ingestion run ${runId} is not running`);
      return { async stop() {} };
    },
    async recordShard(runId, sites, extra) {
      const prior = bronze.runs.get(runId);
      if (!prior) throw new Error(`no ingestion run ${runId}`);
      const run = {
        ...prior.run,
        rawObjectKeys: [...new Set([...prior.run.rawObjectKeys, ...extra.rawObjectKeys])].sort(),
        weightedCalls: (prior.run.weightedCalls ?? 0) + extra.weightedCalls,
      };
      bronze.runs.set(runId, { run, sites: mergeSites(prior.sites, sites) });
    },
    async runCounts(runId) {
      const sites = bronze.runs.get(runId)?.sites ?? [];
      const count = (status: SiteOutcome["status"]) => sites.filter((s) => s.status === status).length;
      return {
        sitesTotal: sites.length,
        sitesOk: count("ok"),
        sitesFailed: count("failed"),
        sitesQuarantined: count("quarantined"),
      };
    },
    async weightedCallsSince(source, since) {
      return [...bronze.runs.values()]
        .filter(({ run }) => run.source === source && run.finishedAt !== undefined && run.finishedAt >= since)
        .map(({ run }) => ({ at: run.finishedAt as Date, weightedCalls: run.weightedCalls ?? 0 }));
    },
  };
  return bronze;
}

type RunStatus = "running" | "succeeded" | "failed" | "passed";

export interface MemoryOpsLedger extends OpsLedger {
  readonly transformRuns: Map<number, TransformRunStart & { status: RunStatus; error?: string }>;
  readonly checkRuns: Map<
    number,
    CheckRunStart & { status: RunStatus; error?: string; results?: CheckResult[]; checksFailed?: number }
  >;
  readonly executions: Map<
    string,
    {
      interval: Interval;
      status: RunStatus;
      attempt: number;
      failedState?: string | null;
      error?: string | null;
      cause?: string | null;
      events?: unknown[];
    }
  >;
  readonly notifications: { executionName: string; interval: Interval; subject: string; message: unknown }[];
  /** Leases being renewed now (`transform:<runId>`, `execution:<name>`): a stopped heartbeat leaves. */
  readonly leasesHeld: Set<string>;
  /** Set to make a ledger method fail (e.g. the database is gone when the outcome is written). */
  failWhen?: FailWhen<[method: keyof OpsLedger]>;
}

/**
 * The ops ledger in memory. Leases never expire here (no clock): a test that needs the `abandoned`
 * takeover uses Postgres (tests/integration/run-leases.test.ts).
 */
export function memoryOpsLedger(): MemoryOpsLedger {
  let nextId = 1;
  const check = (method: keyof OpsLedger) => {
    const error = ledger.failWhen?.(method);
    if (error) throw error;
  };
  const hold = (key: string) => {
    ledger.leasesHeld.add(key);
    return {
      async stop() {
        ledger.leasesHeld.delete(key);
      },
    };
  };
  const ledger: MemoryOpsLedger = {
    transformRuns: new Map(),
    checkRuns: new Map(),
    executions: new Map(),
    notifications: [],
    leasesHeld: new Set(),
    async startTransformRun(run) {
      check("startTransformRun");
      const runId = nextId++;
      ledger.transformRuns.set(runId, { ...run, status: "running" });
      return { runId, leaseRemainingMs: 120_000 };
    },
    keepTransformRunLeased(runId) {
      check("keepTransformRunLeased");
      return hold(`transform:${runId}`);
    },
    async failTransformRun(runId, error) {
      check("failTransformRun");
      const run = ledger.transformRuns.get(runId);
      if (run) Object.assign(run, { status: "failed", error });
    },
    async earliestRecomputedHour() {
      check("earliestRecomputedHour");
      return null;
    },
    async startCheckRun(run) {
      check("startCheckRun");
      const runId = nextId++;
      ledger.checkRuns.set(runId, { ...run, status: "running" });
      return runId;
    },
    async failCheckRun(runId, error) {
      check("failCheckRun");
      const run = ledger.checkRuns.get(runId);
      if (run) Object.assign(run, { status: "failed", error });
    },
    async finishCheckRun(runId, outcome) {
      check("finishCheckRun");
      const run = ledger.checkRuns.get(runId);
      if (run) Object.assign(run, outcome);
    },
    async executionStatus(name) {
      check("executionStatus");
      return ledger.executions.get(name)?.status ?? null;
    },
    async startExecution(name, interval) {
      check("startExecution");
      const attempt = (ledger.executions.get(name)?.attempt ?? 0) + 1;
      ledger.executions.set(name, { interval, status: "running", attempt });
      return { leaseRemainingMs: 120_000 };
    },
    keepExecutionLeased(name) {
      check("keepExecutionLeased");
      return hold(`execution:${name}`);
    },
    async recordNotification(n) {
      check("recordNotification");
      ledger.notifications.push(n);
    },
    async finishExecution(name, outcome) {
      check("finishExecution");
      const execution = ledger.executions.get(name);
      if (execution) Object.assign(execution, outcome);
    },
  };
  return ledger;
}

export interface MemoryWarehouse extends Warehouse {
  /** What a transform writes; the run is recorded succeeded in `ledger`, as the real transaction does. */
  output: LayerTransformOutput;
  /** Set to make `transformLayer` fail (its transaction rolled back: nothing recorded). */
  failTransform?: FailWhen<[runId: number, run: TransformRunStart]>;
  /** What `runChecks` returns (default: every check passes). */
  checkResults?: CheckResult[];
}

/** A warehouse with no SQL behind it: transforms write `output`, checks return `checkResults`. */
export function memoryWarehouse(ledger: MemoryOpsLedger): MemoryWarehouse {
  const warehouse: MemoryWarehouse = {
    output: {
      relations: [],
      affectedHours: [],
      affectedKeys: 0,
      sourceRowsRead: 0,
      ingestionRunIds: [],
      rawObjectKeys: [],
    },
    async transformLayer(runId, run) {
      const error = warehouse.failTransform?.(runId, run);
      if (error) throw error;
      const row = ledger.transformRuns.get(runId);
      if (row) row.status = "succeeded";
      return warehouse.output;
    },
    async runChecks(checks) {
      return (
        warehouse.checkResults ??
        checks.map((c) => ({
          name: c.name,
          layer: c.layer,
          severity: c.severity,
          passed: true,
          failingRows: 0,
          sample: [],
          durationMs: 0,
        }))
      );
    },
  };
  return warehouse;
}
