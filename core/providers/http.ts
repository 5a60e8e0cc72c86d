/**
 * The HTTP robustness layer shared by every provider: one request per batch with a per-attempt timeout,
 * exponential backoff with full jitter (the `exponential-backoff` package) on 5xx / 408 / 429 / timeouts /
 * network errors, `Retry-After` honoured, and a request queue per provider for concurrency and weighted
 * call limits (see {@link createRequestQueue} and limits.ts).
 *
 * Every attempt's outcome — errors included — becomes a {@link RawEnvelope} that the caller lands in the
 * raw store before anything is retried or parsed. Bodies are read as a stream and cut at
 * `maxBodyBytes`, so a server answering gigabytes costs at most that much memory. The envelope never
 * carries the API key: its URL is the provider's redacted URL, and the key is scrubbed from bodies, kept
 * headers and error messages in every encoding a server may echo it in (see {@link secretScrubber}).
 *
 * A provider with a credential (OpenWeatherMap's key) says which responses mean "key rejected"; such a
 * response is landed and then thrown as {@link AuthenticationError}, never retried.
 *
 * Also home of the small envelope helpers both providers' `parse` use (failure reasons, contract
 * reasons), so the two describe failures the same way.
 */
import { setMaxListeners } from "node:events";
import { backOff } from "exponential-backoff";
import PQueue from "p-queue";
import type * as z from "zod/mini";
import { type Config, DEFAULT_HTTP_MAX_BODY_BYTES } from "../config/env.ts";
import type { Interval } from "../domain/interval.ts";
import type { ProviderSource } from "../domain/observation.ts";
import type { Site } from "../domain/sites.ts";
import type { RawEnvelope, SiteProblem, WeatherProvider } from "../ports.ts";
import { createWeightedLimiter, type WeightedLimiter } from "./limits.ts";

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
  /**
   * The largest response body read, in bytes (HTTP_MAX_BODY_BYTES). A longer body is cut while it
   * streams: the request is aborted, the envelope keeps its first bytes with `bodyTruncated: true`, and
   * it is not retried (the server would send as much again).
   */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/**
 * How much of an oversized body the envelope keeps: enough to see what the server sent (an HTML error
 * page, a runaway array), small enough that landing and replaying it stays cheap.
 */
export const TRUNCATED_BODY_KEEP_BYTES = 65_536;

/** The most of a body a quarantine payload carries: never the whole body once per site. */
export const BODY_EXCERPT_BYTES = 2_048;

/** The policy the environment asks for (HTTP_TIMEOUT_MS, HTTP_MAX_ATTEMPTS, HTTP_BACKOFF_*, HTTP_MAX_BODY_BYTES). */
export function httpPolicyFromConfig(config: Config): HttpPolicy {
  return {
    timeoutMs: config.HTTP_TIMEOUT_MS,
    maxAttempts: config.HTTP_MAX_ATTEMPTS,
    backoffBaseMs: config.HTTP_BACKOFF_BASE_MS,
    backoffMaxMs: config.HTTP_BACKOFF_MAX_MS,
    maxRetryAfterMs: DEFAULT_MAX_RETRY_AFTER_MS,
    maxBodyBytes: config.HTTP_MAX_BODY_BYTES,
  };
}

/**
 * A credential a provider sends with every request, and how to tell that the server rejected it. A
 * rejected key fails every request alike, so the first rejection stops the whole run.
 */
export interface ProviderCredential {
  /** Where the credential comes from, for messages: a variable or secret name, never the value. */
  readonly origin: string;
  /** The server's reason when `envelope` means "credential rejected"; undefined otherwise. */
  rejection(envelope: RawEnvelope): string | undefined;
}

/** A provider whose requests carry a credential (OpenWeatherMap); keyless providers have none. */
export type CredentialedProvider = WeatherProvider & { readonly credential?: ProviderCredential };

const PROVIDER_NAMES: Record<ProviderSource, string> = {
  "open-meteo": "Open-Meteo",
  openweather: "OpenWeatherMap",
  simulator: "the API simulator",
};

/**
 * The provider rejected the API key (HTTP 401, or 403 where the provider means the key). Fatal for the
 * whole run: the response is landed raw, queued requests are dropped and the CLI exits 2. The message
 * names where the key comes from, never the key.
 */
export class AuthenticationError extends Error {
  override name = "AuthenticationError";
  constructor(
    readonly source: ProviderSource,
    /** A variable or secret name, e.g. `OPENWEATHER_API_KEY`. */
    readonly credentialOrigin: string,
    readonly status: number,
    detail: string,
  ) {
    super(
      `${PROVIDER_NAMES[source]} rejected the API key from ${credentialOrigin} (HTTP ${status}: ${detail}). ` +
        `Set a valid key in ${credentialOrigin} and rerun; the run stopped at the first rejected request.`,
    );
  }
}

export interface FetchBatchArgs {
  provider: CredentialedProvider;
  sites: Site[];
  interval: Interval;
  batch: number;
  policy: HttpPolicy;
  /**
   * Called and awaited for every attempt (errors included) before retrying or returning: land it raw
   * here, or start landing it and await that in `beforeRetry` and before parsing, as ingest and
   * history do (core/use-cases/ingest.ts attemptLandings) so the request's slot is not held meanwhile.
   */
  onResponse: (envelope: RawEnvelope) => Promise<void>;
  fetchImpl?: typeof fetch;
  /** Cancels the whole batch: the in-flight attempt is aborted and `fetchBatch` rejects with the reason. */
  signal?: AbortSignal;
  /**
   * Awaited before every attempt after the first: acquire the request's weight again
   * (`() => queue.acquire(weight, signal)`), since the provider counts a retried request too.
   */
  beforeRetry?: () => Promise<void>;
  /**
   * An explicit request instead of `provider.url(sites, interval)` (a history request): `url` is sent,
   * `redactedUrl` (the same without secrets) lands in the envelope and names the secrets to scrub.
   */
  request?: { url: string; redactedUrl: string };
  /** A history request's hours: copied into every envelope (`RawEnvelope.range`). */
  range?: { from: Interval; to: Interval };
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
 * one longer than `policy.maxRetryAfterMs` stops retrying. Other statuses (2xx, other 4xx) end at once,
 * and so does a body cut at `policy.maxBodyBytes`.
 *
 * @returns the envelope of the last attempt (success or the final failure); parse it with the provider.
 * @throws {AuthenticationError} after landing a response the provider's credential calls a rejected key.
 * @throws whatever `onResponse` throws (a raw-store failure must stop the batch, not be retried), or the
 *   abort reason when `signal` is aborted.
 */
export async function fetchBatch(args: FetchBatchArgs): Promise<RawEnvelope> {
  const { provider, sites, interval, batch, policy, onResponse, signal } = args;
  const fetchImpl = args.fetchImpl ?? fetch;
  const url = args.request?.url ?? provider.url(sites, interval);
  const redactedUrl = args.request?.redactedUrl ?? provider.url(sites, interval, { redact: true });
  const scrub = cachedScrubber(secretValues(url, redactedUrl));
  const maxRetryAfterMs = policy.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  const maxBodyBytes = policy.maxBodyBytes ?? DEFAULT_HTTP_MAX_BODY_BYTES;
  let attempt = 0;

  const once = async (): Promise<RawEnvelope> => {
    signal?.throwIfAborted();
    if (attempt > 0 && args.beforeRetry) await args.beforeRetry();
    attempt += 1;
    const base = {
      version: 1 as const,
      source: provider.source,
      interval,
      ...(args.range ? { range: args.range } : {}),
      batch,
      sites,
      url: redactedUrl,
      attempt,
      fetchedAt: new Date().toISOString(),
    };
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    // Ours to pull: stops the transfer once the body is over the limit.
    const cut = new AbortController();
    const started = performance.now();
    let envelope: RawEnvelope;
    try {
      const res = await fetchImpl(url, {
        signal: AbortSignal.any([cut.signal, timeout, ...(signal ? [signal] : [])]),
        headers: { accept: "application/json" },
      });
      const body = await readBody(res, maxBodyBytes, cut);
      envelope = {
        ...base,
        status: res.status,
        headers: pickHeaders(res.headers, scrub),
        latencyMs: Math.round(performance.now() - started),
        body: body.truncated ? scrub.truncated(body.text) : scrub(body.text),
        ...(body.truncated ? { bodyTruncated: true as const, bodyBytes: body.bytes, maxBodyBytes } : {}),
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
    const rejected = provider.credential?.rejection(envelope);
    if (rejected !== undefined) {
      throw new AuthenticationError(
        provider.source,
        provider.credential?.origin ?? "?",
        envelope.status,
        rejected,
      );
    }
    if (isRetryable(envelope.status) && !envelope.bodyTruncated) {
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
 * One provider's request queue: p-queue bounds the requests in flight, a {@link WeightedLimiter}
 * the weighted calls per minute, hour and day. Add one task per request with its weight
 * (`queue.add(() => fetchBatch(...), { weight })`); the weight is acquired once the task holds a
 * concurrency slot, right before it starts, so a grant is never spent late. Retries inside a task
 * acquire their weight again through {@link RequestQueue.acquire} (pass it as `fetchBatch`'s
 * `beforeRetry`): providers count every request they answer, failed ones included.
 */
export interface RequestQueue {
  /** Runs `task` once a slot is free and `weight` fits every window. */
  add<T>(task: () => Promise<T>, opts: { weight: number }): Promise<T>;
  /** Acquires `weight` for a request made inside a running task (a retry). */
  acquire(weight: number, signal?: AbortSignal): Promise<void>;
  /**
   * Removes every task not yet started (also one waiting for the limiter); their `add` promises reject
   * with `reason`. Running ones go on. For a fatal error: the queue is unusable afterwards.
   */
  dropQueued(reason: unknown): void;
  /** Weighted calls acquired through this queue so far, retries included: the run's usage. */
  readonly weightedCalls: number;
  readonly limiter: WeightedLimiter;
}

/**
 * The request queue for `provider`: its concurrency, and `opts.limiter` (share one between the live
 * ingestion and a history fetch of the same provider in one process) or a fresh limiter for its tier.
 *
 * Dropping uses one abort signal for the whole queue: p-queue's own per-task `signal` costs about
 * 0.1 ms per task (3–6× the queue's overhead, measured with 20,000 tasks), and `clear()` alone leaves
 * the dropped tasks' promises pending forever.
 */
export function createRequestQueue(
  provider: Pick<WeatherProvider, "concurrency" | "limits" | "source">,
  opts: { limiter?: WeightedLimiter } = {},
): RequestQueue {
  const limiter = opts.limiter ?? createWeightedLimiter(provider.limits, { source: provider.source });
  const queue = new PQueue({ concurrency: provider.concurrency });
  const dropped = new AbortController();
  // Every task waiting for the limiter listens on it (up to the concurrency at once): not a leak.
  setMaxListeners(0, dropped.signal);
  const waiting = new Set<(reason: unknown) => void>();
  let weightedCalls = 0;
  const acquire = async (weight: number, signal?: AbortSignal) => {
    await limiter.acquire(weight, signal ? AbortSignal.any([signal, dropped.signal]) : dropped.signal);
    weightedCalls += weight;
  };
  return {
    limiter,
    get weightedCalls() {
      return weightedCalls;
    },
    acquire,
    add<T>(task: () => Promise<T>, { weight }: { weight: number }): Promise<T> {
      if (dropped.signal.aborted) return Promise.reject(dropped.signal.reason);
      return new Promise<T>((resolve, reject) => {
        waiting.add(reject);
        queue
          .add(async () => {
            waiting.delete(reject);
            await acquire(weight);
            return task();
          })
          .then(resolve, reject);
      });
    },
    dropQueued(reason) {
      queue.clear();
      for (const reject of waiting) reject(reason);
      waiting.clear();
      dropped.abort(reason);
    },
  };
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

/**
 * The headers replay needs. None of them should echo the request URL, but a misbehaving server could
 * put anything anywhere, so the kept values are scrubbed like the body.
 */
function pickHeaders(headers: Headers, scrub: (text: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["content-type", "retry-after"]) {
    const v = headers.get(name);
    if (v !== null) out[name] = scrub(v);
  }
  return out;
}

/**
 * Reads a body as a stream, at most `maxBytes` of it. Over the limit it keeps the first
 * {@link TRUNCATED_BODY_KEEP_BYTES}, cancels the stream and aborts the request through `cut`, so memory
 * stays bounded whatever the server sends. `bytes` counts what was received before stopping.
 */
async function readBody(
  res: Response,
  maxBytes: number,
  cut: AbortController,
): Promise<{ text: string; bytes: number; truncated: boolean }> {
  if (!res.body) return { text: "", bytes: 0, truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    chunks.push(value);
    if (bytes > maxBytes) {
      cut.abort(new Error(`response body exceeds ${maxBytes} bytes`));
      await reader.cancel().catch(() => {});
      return {
        text: decodeUtf8(chunks, Math.min(maxBytes, TRUNCATED_BODY_KEEP_BYTES)),
        bytes,
        truncated: true,
      };
    }
  }
  return { text: decodeUtf8(chunks, bytes), bytes, truncated: false };
}

/** The first `limit` bytes of `chunks` as UTF-8; a character cut at the limit is dropped, not mangled. */
function decodeUtf8(chunks: Uint8Array[], limit: number): string {
  const decoder = new TextDecoder();
  let text = "";
  let left = limit;
  for (const chunk of chunks) {
    if (left <= 0) break;
    const part = chunk.byteLength > left ? chunk.subarray(0, left) : chunk;
    left -= part.byteLength;
    text += decoder.decode(part, { stream: true });
  }
  // No final flush: an incomplete trailing sequence is the cut, not a character.
  return limit >= totalBytes(chunks) ? text + decoder.decode() : text;
}

function totalBytes(chunks: Uint8Array[]): number {
  return chunks.reduce((n, c) => n + c.byteLength, 0);
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

/** A scrubber for bodies and messages; `truncated` also drops a tail that may be the start of a secret. */
export interface SecretScrubber {
  (text: string): string;
  truncated(text: string): string;
}

/**
 * Replaces every occurrence of each secret with `REDACTED`, in any encoding a server may echo it back
 * in: literal; percent-encoded (upper or lower hex, `+` or `%20` for a space, double-encoded `%25XX`);
 * JSON-escaped (`\uXXXX`, `\/`, `\"`); HTML entities; and base64 / base64url of the key and of its
 * URL-encoded forms at any alignment, so the key is found inside a base64 blob of a whole URL too.
 * Encodings mix freely character by character (one server encodes `/`, another `é`).
 */
export function secretScrubber(secrets: string[]): SecretScrubber {
  const live = secrets.filter((s) => s !== "");
  if (live.length === 0) return Object.assign((text: string) => text, { truncated: (text: string) => text });
  const textual = live.map(encodedPattern);
  const b64 = live.flatMap(base64Fragments);
  const pattern = new RegExp([...textual.map((t) => t.source), ...b64.map(escapeRegExp)].join("|"), "g");
  // The longest text one encoded occurrence can take: a tail that short may hold a secret's beginning.
  const guard = Math.max(...textual.map((t) => t.maxLength), ...b64.map((f) => f.length));
  const scrub = (text: string) => text.replace(pattern, "REDACTED");
  return Object.assign(scrub, {
    // Scrub whole occurrences first, then cut: a partial one can only sit in the last `guard` characters.
    truncated: (text: string) => {
      const clean = scrub(text);
      return clean.length > guard ? clean.slice(0, clean.length - guard) : "";
    },
  });
}

// One provider, one key: every batch of a run (10,000 for OpenWeatherMap) reuses one compiled pattern.
let lastScrubber: { id: string; scrub: SecretScrubber } | undefined;
function cachedScrubber(secrets: string[]): SecretScrubber {
  const id = JSON.stringify(secrets);
  if (lastScrubber?.id !== id) lastScrubber = { id, scrub: secretScrubber(secrets) };
  return lastScrubber.scrub;
}

/** A regex source matching `secret` with each character in any of its text encodings. */
function encodedPattern(secret: string): { source: string; maxLength: number } {
  let source = "";
  let maxLength = 0;
  for (const ch of secret) {
    const forms = characterForms(ch);
    maxLength += Math.max(...forms.map((f) => f.length));
    source += `(?:${forms.map(formPattern).join("|")})`;
  }
  return { source, maxLength };
}

/** One character's spellings, hex digits upper case (made case-insensitive by {@link formPattern}). */
function characterForms(ch: string): string[] {
  const bytes = [...new TextEncoder().encode(ch)];
  const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, "0");
  const code = ch.codePointAt(0) ?? 0;
  const utf16 = ch.length === 2 ? [ch.charCodeAt(0), ch.charCodeAt(1)] : [code];
  const forms = new Set<string>([
    ch,
    bytes.map((b) => `%${hex(b, 2)}`).join(""),
    bytes.map((b) => `%25${hex(b, 2)}`).join(""),
    utf16.map((u) => `\\u${hex(u, 4)}`).join(""),
    `&#${code};`,
    `&#X${hex(code, 1)};`,
  ]);
  const named: Record<string, string[]> = {
    " ": ["+"],
    "/": ["\\/"],
    '"': ['\\"', "&QUOT;"],
    "\\": ["\\\\"],
    "&": ["&AMP;"],
    "<": ["&LT;"],
    ">": ["&GT;"],
    "'": ["&APOS;"],
  };
  for (const f of named[ch] ?? []) forms.add(f);
  return [...forms];
}

/** A literal form as a regex: escape sequences and hex digits match in either case, the key's own letters exactly. */
function formPattern(form: string): string {
  if (form.length === 1) return escapeRegExp(form);
  return [...escapeRegExp(form)]
    .map((c) => (/[A-Za-z]/.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c))
    .join("");
}

/**
 * Base64 and base64url of the secret's UTF-8 bytes and of its URL-encoded forms, at the three byte
 * alignments, trimmed to the characters that depend on the secret alone. Too-short fragments (a tiny
 * secret) are left out: they would match ordinary base64 by chance.
 */
function base64Fragments(secret: string): string[] {
  const spellings = new Set([
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ k: secret }).toString().slice(2),
  ]);
  const out = new Set<string>();
  for (const spelling of spellings) {
    const bytes = Buffer.from(spelling, "utf8");
    out.add(bytes.toString("base64"));
    out.add(bytes.toString("base64url"));
    for (let pad = 0; pad < 3; pad++) {
      const b64 = Buffer.concat([Buffer.alloc(pad), bytes]).toString("base64");
      const from = Math.ceil((pad * 8) / 6);
      const to = Math.floor(((pad + bytes.length) * 8) / 6);
      const fragment = b64.slice(from, to);
      if (fragment.length < 8) continue;
      out.add(fragment);
      out.add(fragment.replaceAll("+", "-").replaceAll("/", "_"));
    }
  }
  return [...out].filter((f) => f.length >= 8 || f === Buffer.from(secret, "utf8").toString("base64"));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
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

/**
 * Every site quarantined when the body was cut at HTTP_MAX_BODY_BYTES, with a bounded excerpt; undefined
 * for a whole body. Checked first by both providers: a cut body never parses.
 */
export function oversizedBody(envelope: RawEnvelope): SiteProblem[] | undefined {
  if (!envelope.bodyTruncated) return undefined;
  const limit = envelope.maxBodyBytes ?? envelope.bodyBytes ?? envelope.body.length;
  return quarantineAll(
    envelope,
    `response body exceeds HTTP_MAX_BODY_BYTES (${limit} bytes)`,
    bodyExcerpt(envelope.body),
  );
}

/** At most {@link BODY_EXCERPT_BYTES} of a body (UTF-8), for quarantine payloads. */
export function bodyExcerpt(body: string): string {
  const bytes = Buffer.from(body, "utf8");
  if (bytes.length <= BODY_EXCERPT_BYTES) return body;
  return decodeUtf8([bytes], BODY_EXCERPT_BYTES);
}

/** True when the envelope holds a usable HTTP response (2xx). */
export function isSuccess(envelope: RawEnvelope): boolean {
  return envelope.networkError === undefined && envelope.status >= 200 && envelope.status < 300;
}

export function failAll(envelope: RawEnvelope, reason: string): SiteProblem[] {
  return envelope.sites.map((s) => ({ siteId: s.id, status: "failed" as const, reason }));
}

export function quarantineAll(envelope: RawEnvelope, reason: string, payload: unknown): SiteProblem[] {
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
