/**
 * `weather invoke <function>`: runs the real middy-wrapped `handler` of functions/<function>.ts in this
 * process, with a Lambda-like context, against the runtime the usual flags choose. The handler's
 * result is the JSON document on stdout; its logs and EMF lines go to stderr.
 */
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import type { Context } from "aws-lambda";
import { Argument, type Command, Option } from "commander";
import type { Config } from "#core/config/env.ts";
import { InvalidEventError } from "#core/domain/events.ts";
import { type Interval, intervalOf } from "#core/domain/interval.ts";
import { HEAL_DAYS } from "#core/use-cases/heal.ts";
import { timeLimitsFromConfig } from "#core/workflow/time-limits.ts";
import { action, common } from "../command.ts";
import { withRuntime, withSource } from "../context.ts";
import { EXIT, UsageError } from "../errors.ts";
import {
  FUNCTION_NAMES,
  type FunctionName,
  functionEnvironment,
  functionSpec,
  InvocationTimeoutError,
  lambdaContext,
  lambdaEnvironment,
  scheduledEvent,
  trackPools,
  withinTimeout,
} from "../lambda.ts";
import { reportError, routeStdoutToStderr, writeDocument } from "../output.ts";
import { DEFAULT_WATCH_PATHS, watchInvocations } from "../watch.ts";

export function register(program: Command): void {
  common(
    program
      .command("invoke")
      .description(
        "run one Lambda handler (functions/<function>.ts) in this process with a Lambda-like context, on " +
          "the runtime the flags choose: its result as JSON on stdout (with --json, a failure's error document " +
          "too), its logs and EMF metrics on stderr. " +
          "Exits 2 on an event the handler rejects, 1 when the handler throws.",
      )
      .addArgument(new Argument("<function>", "the function to run").choices(FUNCTION_NAMES))
      .option(
        "--event <file|->",
        "the event, a JSON file or - for stdin (samples in events/; default for ingest: a scheduled event for " +
          `now; for heal: { "days": ${HEAL_DAYS.default} })`,
      )
      .option("--watch", "run again whenever a file under functions/, core/ or sql/ changes (Ctrl-C stops)")
      .addOption(
        new Option("--watch-path <dir>", "with --watch: watch this directory instead (repeatable)").argParser(
          (dir: string, prev: string[] | undefined) => [...(prev ?? []), dir],
        ),
      ),
    { source: true, sites: true },
  ).action(
    action(async ({ flags, args, config, out }) => {
      const name = args[0] as FunctionName;
      if (flags.watch)
        return watchInvocations({
          argv: process.argv.slice(2),
          paths: (flags.watchPath as unknown as string[] | undefined) ?? DEFAULT_WATCH_PATHS,
          say: out.say,
        });
      const event = await readEvent(flags.event, name, config);
      const undo = routeStdoutToStderr();
      try {
        const outcome = await invoke(name, event, config, Boolean(flags.verbose));
        if ("error" in outcome) {
          if (flags.verbose && outcome.error instanceof Error)
            process.stderr.write(`${outcome.error.stack}\n`);
          reportError(outcome.error, EXIT.failed, out.json);
          return EXIT.failed;
        }
        // Lambda reports a handler that returns nothing as null.
        writeDocument(outcome.result ?? null);
        return EXIT.ok;
      } finally {
        undo();
      }
    }),
  );
}

type Outcome = { result: unknown } | { error: unknown };

/**
 * Opens the runtime as every command does (home lock, migrations, the simulator for `--source
 * simulator`), hands the function its settings through the environment — the embedded PGlite by its
 * loopback URL — and runs the handler once. An event the handler rejects (InvalidEventError) is
 * thrown, for exit 2; anything else the handler throws is the outcome.
 */
async function invoke(
  name: FunctionName,
  event: unknown,
  config: Config,
  verbose: boolean,
): Promise<Outcome> {
  const spec = functionSpec(name, timeLimitsFromConfig(config));
  const run = (runConfig: Config, pin?: (interval: Interval) => void) =>
    withRuntime(
      runConfig,
      async (rt) => {
        const context = lambdaContext(name, spec, runConfig.AWS_REGION);
        Object.assign(process.env, lambdaEnvironment(context), {
          ...functionEnvironment(runConfig, {
            DATABASE_URL: rt.db.embedded ? rt.db.url : runConfig.DATABASE_URL,
            RAW_STORE: rt.rawStore.location,
            POWERTOOLS_LOG_LEVEL: verbose ? "DEBUG" : undefined,
          }),
        });
        const pools = trackPools();
        let timedOut = false;
        try {
          const handler = await loadHandler(name);
          if (pin) pin(await eventInterval(event));
          return { result: await withinTimeout(handler(event, context), spec.timeoutSeconds) };
        } catch (error) {
          if (error instanceof InvalidEventError) throw error;
          timedOut = error instanceof InvocationTimeoutError;
          return { error };
        } finally {
          pools.stop();
          // A handler past its timeout may still hold a client, which ending its pool would wait for.
          const ended = pools.end(rt.db.pool).catch(() => {});
          if (!timedOut) await ended;
        }
      },
      { writesRaw: name === "ingest" || name === "heal" },
    );
  // Heal fetches past hours: the bundled simulator serves them whatever hour it is pinned to.
  if (name === "heal") return withSource(config, intervalOf(new Date()), (session) => run(session.config));
  if (name !== "ingest") return run(config);
  // The bundled simulator serves the hour it is pinned to: the event's.
  return withSource(config, intervalOf(new Date()), (session) => run(session.config, session.pin));
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

async function loadHandler(name: FunctionName): Promise<Handler> {
  switch (name) {
    case "ingest":
      return (await import("#functions/ingest.ts")).handler as Handler;
    case "transform":
      return (await import("#functions/transform.ts")).handler as Handler;
    case "check-quality":
      return (await import("#functions/check-quality.ts")).handler as Handler;
    case "heal":
      return (await import("#functions/heal.ts")).handler as Handler;
  }
}

/** The hour an ingest event asks for (by the handler's own schema), or the current hour if it is bad. */
async function eventInterval(event: unknown): Promise<Interval> {
  const { eventSchema } = await import("#functions/ingest.ts");
  try {
    const parsed = eventSchema.safeParse(event);
    if (parsed.success) return parsed.data;
  } catch {
    // A bad interval: the handler says so.
  }
  return intervalOf(new Date());
}

async function readEvent(spec: unknown, name: FunctionName, config: Config): Promise<unknown> {
  if (spec === undefined) {
    if (name === "ingest") return scheduledEvent(new Date(), config.AWS_REGION);
    // What the daily heal rule sends (stacks/constructs/stateless.ts, HealSchedule).
    if (name === "heal") return { days: HEAL_DAYS.default };
    throw new UsageError(`--event is required for ${name}: a JSON file, or - for stdin (samples in events/)`);
  }
  const from = spec === "-" ? "--event - (stdin)" : `--event ${spec}`;
  let body: string;
  try {
    body = spec === "-" ? await text(process.stdin) : await readFile(String(spec), "utf8");
  } catch (e) {
    throw new UsageError(`${from}: cannot read it (${(e as Error).message})`);
  }
  try {
    return JSON.parse(body);
  } catch (e) {
    throw new UsageError(`${from}: not JSON (${(e as Error).message})`);
  }
}
