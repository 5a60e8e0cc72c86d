/**
 * In-memory fakes of the ports, for use-case tests of the paths a real adapter rarely takes (a raw
 * store that refuses a write, a database that drops mid-run). They keep the ports' contracts — raw is
 * append-only, `list` is sorted, bronze upserts by its key — so a test that passes on a fake says
 * something about the real adapters too; tests/integration covers those against S3/fs and Postgres.
 */
import { RawObjectExistsError } from "#core/adapters/raw-store-errors.ts";
import type {
  BronzeRepository,
  BronzeRow,
  IngestionRunRecord,
  QuarantineEntry,
  RawStore,
  SiteOutcome,
} from "#core/ports.ts";

/** Decides whether a call fails: return an error to throw it, undefined to let the call through. */
export type FailWhen<A extends unknown[]> = (...args: A) => Error | undefined;

export interface MemoryRawStore extends RawStore {
  readonly objects: Map<string, string>;
  /** Set to make `put` fail for some keys (e.g. a full disk, S3 throttling). */
  failPut?: FailWhen<[key: string]>;
}

export function memoryRawStore(): MemoryRawStore {
  const store: MemoryRawStore = {
    location: "memory://raw",
    objects: new Map(),
    async put(key, body) {
      const error = store.failPut?.(key);
      if (error) throw error;
      if (store.objects.has(key)) throw new RawObjectExistsError(store.location, key);
      store.objects.set(key, body);
    },
    async get(key) {
      const body = store.objects.get(key);
      if (body === undefined) throw new Error(`no raw object ${key} in ${store.location}`);
      return body;
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
      // The ledger adds each attempt's calls to the run's count, as the Postgres adapter does.
      const prior = bronze.runs.get(run.runId)?.run.weightedCalls ?? 0;
      bronze.runs.set(run.runId, { run: { ...run, weightedCalls: prior + (run.weightedCalls ?? 0) }, sites });
    },
    async weightedCallsSince(source, since) {
      return [...bronze.runs.values()]
        .filter(({ run }) => run.source === source && run.finishedAt !== undefined && run.finishedAt >= since)
        .map(({ run }) => ({ at: run.finishedAt as Date, weightedCalls: run.weightedCalls ?? 0 }));
    },
  };
  return bronze;
}
