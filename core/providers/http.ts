/**
 * The HTTP robustness layer shared by every provider: one request per batch with a per-attempt timeout,
 * exponential backoff with full jitter (the `exponential-backoff` package) on 5xx / 408 / 429 / timeouts /
 * network errors, `Retry-After` honoured, and a p-queue per provider for concurrency and rate.
 *
 * Every attempt's outcome — errors included — becomes a {@link RawEnvelope} that the caller lands in the
 * raw store before anything is retried or parsed. The envelope never carries the API key: its URL is the
 * provider's redacted URL, and any secret echoed in a body or error message is scrubbed.
 *
 * Also home of the small envelope helpers both providers' `parse` use (failure reasons, contract
 * reasons), so the two describe failures the same way.
 */
import { backOff } from "exponential-backoff";
import PQueue from "p-queue";
import type * as z from "zod/mini";
import type { Config } from "../config/env.ts";
import type { Interval } from "../domain/interval.ts";
import type { Site } from "../domain/sites.ts";
import type { RawEnvelope, SiteParseResult, WeatherProvider } from "../ports.ts";

/** How hard to try one request. */
export interface HttpPolicy {
  /** Per-attempt budget, covering connect, headers and the whole body. */
  timeoutMs: number;
  /** Attempts in total, the first one included. */
  maxAttempts: number;
  /** Backoff before attempt n+1 is a uniform draw from [0, min(backoffMaxMs, backoffBaseMs × 2^(n-1))]. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /**
   * The longest `Retry-After` worth waiting for; a longer one ends the retries at once (the site fails
   * and the next run picks it up). Default 60 000 ms.
   */
  maxRetryAfterMs?: number;
}

const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/** The policy the environment asks for (HTTP_TIMEOUT_MS, HTTP_MAX_ATTEMPTS, HTTP_BACKOFF_*). */
export function httpPolicyFromConfig(config: Config): HttpPolicy {
  return {
    timeoutMs: config.HTTP_TIMEOUT_MS,
    maxAttempts: config.HTTP_MAX_ATTEMPTS,
    backoffBaseMs: config.HTTP_BACKOFF_BASE_MS,
    backoffMaxMs: config.HTTP_BACKOFF_MAX_MS,
    maxRetryAfterMs: DEFAULT_MAX_RETRY_AFTER_MS,
  };
}

export interface FetchBatchArgs {
  provider: WeatherProvider;
  sites: Site[];
  interval: Interval;
  batch: number;
  policy: HttpPolicy;
  /** Called and awaited for every attempt (errors included) before retrying or parsing: land it raw. */
  onResponse: (envelope: RawEnvelope) => Promise<void>;
  fetchImpl?: typeof fetch;
  /** Cancels the whole batch: the in-flight attempt is aborted and `fetchBatch` rejects with the reason. */
  signal?: AbortSignal;
}

/** Thrown inside the backoff loop so the library schedules another attempt; never escapes. */
class RetryableResponseError extends Error {
  override name = "RetryableResponseError";
  constructor(
    readonly envelope: RawEnvelope,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`retryable outcome: ${envelope.networkError ?? `HTTP ${envelope.status}`}`);
  }
}

/**
 * Fetches one batch with timeout, retries and backoff, handing every attempt to `onResponse`.
 *
 * Retries: status 0 (timeout, connection error), 408, 429 and 5xx, up to `policy.maxAttempts`. A 429 or
 * 503 with `Retry-After` (seconds or HTTP-date) waits at least that long before the jittered backoff;
 * one longer than `policy.maxRetryAfterMs` stops retrying. Other statuses (2xx, other 4xx) end at once.
 *
 * @returns the envelope of the last attempt (success or the final failure); parse it with the provider.
 * @throws whatever `onResponse` throws (a raw-store failure must stop the batch, not be retried), or the
 *   abort reason when `signal` is aborted.
 */
export async function fetchBatch(args: FetchBatchArgs): Promise<RawEnvelope> {
  const { provider, sites, interval, batch, policy, onResponse, signal } = args;
  const fetchImpl = args.fetchImpl ?? fetch;
  const url = provider.url(sites, interval);
  const redactedUrl = provider.url(sites, interval, { redact: true });
  const scrub = scrubber(secretValues(url, redactedUrl));
  const maxRetryAfterMs = policy.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  let attempt = 0;

  const once = async (): Promise<RawEnvelope> => {
    signal?.throwIfAborted();
    attempt += 1;
    const base = {
      version: 1 as const,
      source: provider.source,
      interval,
      batch,
      sites,
      url: redactedUrl,
      attempt,
      fetchedAt: new Date().toISOString(),
    };
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const started = performance.now();
    let envelope: RawEnvelope;
    try {
      const res = await fetchImpl(url, {
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headers: { accept: "application/json" },
      });
      const body = await res.text();
      envelope = {
        ...base,
        status: res.status,
        headers: pickHeaders(res.headers),
        latencyMs: Math.round(performance.now() - started),
        body: scrub(body),
      };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      envelope = {
        ...base,
        status: 0,
        headers: {},
        latencyMs: Math.round(performance.now() - started),
        body: "",
        networkError: scrub(
          timeout.aborted ? `timeout after ${policy.timeoutMs} ms` : describeNetworkError(error),
        ),
      };
    }
    await onResponse(envelope);
    if (isRetryable(envelope.status)) {
      throw new RetryableResponseError(envelope, retryAfterMs(envelope.headers["retry-after"]));
    }
    return envelope;
  };

  try {
    return await backOff(once, {
      numOfAttempts: policy.maxAttempts,
      startingDelay: policy.backoffBaseMs,
      timeMultiple: 2,
      maxDelay: policy.backoffMaxMs,
      jitter: "full",
      delayFirstAttempt: false,
      retry: async (error: unknown) => {
        if (!(error instanceof RetryableResponseError) || signal?.aborted) return false;
        // Checked here too, so the last attempt never sleeps out a Retry-After it will not use.
        if (attempt >= policy.maxAttempts) return false;
        const wait = error.retryAfterMs;
        if (wait === undefined) return true;
        if (wait > maxRetryAfterMs) return false;
        // The library then adds its jittered backoff on top, so the server's minimum is always met.
        await sleep(wait, signal);
        return !signal?.aborted;
      },
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (error instanceof RetryableResponseError) return error.envelope;
    throw error;
  }
}

/**
 * The requests-in-flight and requests-per-minute limiter for one provider. Add one task per batch
 * (`queue.add(() => fetchBatch(...))`); retries of a batch run inside its task, so they hold its
 * concurrency slot but are not counted against the rate (a 429 is answered by `Retry-After` instead).
 *
 * The rate window is a strict sliding window sized by {@link rateWindow}: about one second, holding
 * exactly `ratePerMinute × window / 60 s` starts. A one-minute window would allow the whole minute's
 * budget in one burst; a window per request would lose throughput to timer jitter. With this one the
 * achieved rate converges on `ratePerMinute` when it, not concurrency, is the bound.
 */
export function createRequestQueue(provider: Pick<WeatherProvider, "concurrency" | "ratePerMinute">): PQueue {
  const { intervalCap, interval } = rateWindow(provider.ratePerMinute);
  return new PQueue({ concurrency: provider.concurrency, intervalCap, interval, strict: true });
}

/** The sliding window for a per-minute rate: ≈1 s long (longer for slow rates), holding whole starts. */
export function rateWindow(ratePerMinute: number): { intervalCap: number; interval: number } {
  if (!(ratePerMinute > 0) || !Number.isFinite(ratePerMinute)) {
    throw new RangeError(`ratePerMinute must be a positive number, got ${ratePerMinute}`);
  }
  const intervalCap = Math.max(1, Math.round(ratePerMinute / 60));
  return { intervalCap, interval: (intervalCap * 60_000) / ratePerMinute };
}

function isRetryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP-date; undefined when absent or bad. */
export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function pickHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["content-type", "retry-after"]) {
    const v = headers.get(name);
    if (v !== null) out[name] = v;
  }
  return out;
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  const detail = cause?.code ?? cause?.message;
  return detail ? `${error.message}: ${detail}` : error.message;
}

/** Query values the redacted URL replaced: those are the secrets. */
function secretValues(url: string, redactedUrl: string): string[] {
  const real = new URL(url).searchParams;
  const shown = new URL(redactedUrl).searchParams;
  const out: string[] = [];
  for (const [name, value] of real) {
    if (value !== "" && shown.get(name) !== value) out.push(value);
  }
  return out;
}

function scrubber(secrets: string[]): (text: string) => string {
  if (secrets.length === 0) return (text) => text;
  return (text) => secrets.reduce((t, s) => t.split(s).join("REDACTED"), text);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------------
// Envelope helpers for the providers' `parse`.

/**
 * Why a batch failed at the HTTP level, e.g. `HTTP 429 after 4 attempts: Your account is temporary
 * blocked` or `network error after 2 attempts: timeout after 500 ms`.
 */
export function httpFailureReason(envelope: RawEnvelope, detail?: string): string {
  const attempts = `after ${envelope.attempt} attempt${envelope.attempt === 1 ? "" : "s"}`;
  if (envelope.status === 0) return `network error ${attempts}: ${envelope.networkError ?? "no response"}`;
  const text = detail ?? (envelope.body.trim().slice(0, 200) || "(empty body)");
  return `HTTP ${envelope.status} ${attempts}: ${text}`;
}

/** True when the envelope holds a usable HTTP response (2xx). */
export function isSuccess(envelope: RawEnvelope): boolean {
  return envelope.networkError === undefined && envelope.status >= 200 && envelope.status < 300;
}

export function failAll(envelope: RawEnvelope, reason: string): SiteParseResult[] {
  return envelope.sites.map((s) => ({ siteId: s.id, status: "failed" as const, reason }));
}

export function quarantineAll(envelope: RawEnvelope, reason: string, payload: unknown): SiteParseResult[] {
  return envelope.sites.map((s) => ({ siteId: s.id, status: "quarantined" as const, reason, payload }));
}

/** `JSON.parse` that reports instead of throwing. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, reason: `malformed JSON: ${(error as Error).message}` };
  }
}

/** A contract violation as a reason that names the fields, e.g. `current.temperature_2m: expected number`. */
export function contractReason(error: z.core.$ZodError, prefix = ""): string {
  const parts = error.issues.slice(0, 3).map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== "").join(".") || "(root)";
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : "";
  return `schema drift: ${parts.join("; ")}${more}`;
}
