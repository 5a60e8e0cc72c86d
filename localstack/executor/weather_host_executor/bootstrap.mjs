// Lambda runtime for one host execution environment of LocalStack's host-node executor.
//
// It stands where LocalStack's Go init and AWS's Node runtime client stand in a Lambda container: it
// takes `POST /invoke` from LocalStack on 127.0.0.1:$LOCALSTACK_INTEROP_PORT, runs the handler, and
// calls back `status/ready|error`, `invocations/<id>/logs` and `invocations/<id>/response|error` on
// $LOCALSTACK_RUNTIME_ENDPOINT — the same contract, so LocalStack's Lambda service treats us like a
// container. The handler is loaded with AWS's rules (module.export-path, .js/.mjs/.cjs, "type":
// "module"). A handler past its timeout gets AWS's "Task timed out" error and the process exits, so
// the next invoke re-inits, as in Lambda; a handler that blocks the event loop is killed by the
// Python side instead, because nothing in this process can run then.
import { existsSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

const env = process.env;
const runtimeEndpoint = env.LOCALSTACK_RUNTIME_ENDPOINT;
const runtimeId = env.LOCALSTACK_RUNTIME_ID;
const interopPort = Number(env.LOCALSTACK_INTEROP_PORT);
const timeoutSeconds = Number(env.AWS_LAMBDA_FUNCTION_TIMEOUT ?? 3);
const taskRoot = env.LAMBDA_TASK_ROOT ?? process.cwd();
const jsonLogs = env.AWS_LAMBDA_LOG_FORMAT === "JSON";
// LocalStack-internal variables are not the function's business (the Go init unsets them too).
for (const name of [
  "LOCALSTACK_RUNTIME_ENDPOINT",
  "LOCALSTACK_RUNTIME_ID",
  "LOCALSTACK_INTEROP_PORT",
  "LOCALSTACK_CHMOD_PATHS",
  "LOCALSTACK_USER",
  "LOCALSTACK_INIT_LOG_LEVEL",
  "LOCALSTACK_POST_INVOKE_WAIT_MS",
  "LOCALSTACK_MAX_PAYLOAD_SIZE",
]) {
  delete env[name];
}

// Everything the process writes between two flushes is that invocation's log text, as with the Go
// init: output printed during init lands in the first invocation's logs.
let captured = [];
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = (chunk, encoding, callback) => {
    captured.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    return write(chunk, encoding, callback);
  };
}
const takeLogs = () => {
  const text = captured.join("");
  captured = [];
  return text;
};

let currentRequestId;
// AWS's console format: one call is one CloudWatch event, so inner newlines become \r.
const levels = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE" };
for (const [method, level] of Object.entries(levels)) {
  console[method] = (...args) => {
    const message = format(...args);
    const timestamp = new Date().toISOString();
    const line = jsonLogs
      ? JSON.stringify({ timestamp, level, requestId: currentRequestId, message })
      : `${timestamp}\t${currentRequestId}\t${level}\t${message.replaceAll("\n", "\r")}`;
    process.stdout.write(`${line}\n`);
  };
}

globalThis.awslambda = {
  streamifyResponse() {
    throw new Error("Response streaming is not supported by LocalStack's host-node executor.");
  },
};

const post = async (route, body) => {
  const response = await fetch(`${runtimeEndpoint}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await response.arrayBuffer();
};

class RuntimeError extends Error {
  constructor(name, message, cause) {
    super(message, { cause });
    this.name = name;
  }
}

const errorBody = (error) => {
  if (error instanceof Error) {
    return {
      errorType: error.name ?? error.constructor?.name ?? "Error",
      errorMessage: error.message,
      trace: (error.stack ?? "").split("\n"),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
};

// --- handler loading: AWS Node runtime client rules --------------------------------------------

const nearestPackageType = (dir) => {
  for (let at = dir; ; at = path.dirname(at)) {
    const file = path.join(at, "package.json");
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, "utf8")).type;
      } catch {
        return undefined;
      }
    }
    if (path.dirname(at) === at) return undefined;
  }
};

const isFile = (file) => existsSync(file) && statSync(file).isFile();

async function loadModule(appRoot, moduleName) {
  const base = path.resolve(appRoot, moduleName);
  const require = createRequire(path.join(appRoot, "noop.js"));
  if (isFile(base)) return require(base);
  if (isFile(`${base}.js`)) {
    if (nearestPackageType(path.dirname(base)) === "module") return import(pathToFileURL(`${base}.js`).href);
    try {
      return require(`${base}.js`);
    } catch (error) {
      if (error?.code === "ERR_REQUIRE_ESM") return import(pathToFileURL(`${base}.js`).href);
      throw error;
    }
  }
  if (isFile(`${base}.mjs`)) return import(pathToFileURL(`${base}.mjs`).href);
  if (isFile(`${base}.cjs`)) return require(`${base}.cjs`);
  try {
    return require(moduleName);
  } catch (error) {
    if (error?.code === "MODULE_NOT_FOUND") {
      throw new RuntimeError("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`);
    }
    throw error;
  }
}

async function loadHandler(handlerString) {
  if (!handlerString) {
    throw new RuntimeError("Runtime.MalformedHandlerName", "No handler configured (_HANDLER is empty).");
  }
  if (handlerString.includes("..")) {
    throw new RuntimeError("Runtime.MalformedHandlerName", "'../' not allowed in handler name.");
  }
  const slash = handlerString.lastIndexOf("/");
  const moduleRoot = handlerString.slice(0, slash + 1);
  const match = handlerString.slice(slash + 1).match(/^([^.]*)\.(.*)$/);
  if (!match) throw new RuntimeError("Runtime.MalformedHandlerName", "Bad handler");
  const [, moduleName, exportPath] = match;
  let module;
  try {
    module = await loadModule(path.resolve(taskRoot, moduleRoot), moduleName);
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    if (error instanceof SyntaxError) {
      throw new RuntimeError("Runtime.UserCodeSyntaxError", `${error.name}: ${error.message}`, error);
    }
    throw new RuntimeError("Runtime.ImportModuleError", `${error?.name}: ${error?.message}`, error);
  }
  const handler = exportPath.split(".").reduce((value, key) => value?.[key], module);
  if (handler === undefined) {
    throw new RuntimeError(
      "Runtime.HandlerNotFound",
      `${moduleRoot}${moduleName}.${exportPath} is undefined or not exported`,
    );
  }
  if (typeof handler !== "function") {
    throw new RuntimeError(
      "Runtime.HandlerNotFound",
      `${moduleRoot}${moduleName}.${exportPath} is not a function`,
    );
  }
  return handler;
}

// --- invocations ---------------------------------------------------------------------------------

let handler;
let initDurationMs;
let pendingFailure; // set by process-level error hooks while an invocation runs

const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

function runHandler(event, context) {
  return new Promise((resolve) => {
    pendingFailure = (error) => resolve({ error, fatal: true });
    const callback = (error, result) => resolve(error ? { error } : { result });
    context.done = callback;
    context.succeed = (result) => resolve({ result });
    context.fail = (error) => resolve({ error });
    const timer = setTimeout(() => resolve({ timedOut: true }), context.getRemainingTimeInMillis());
    timer.unref?.();
    try {
      const returned = handler(event, context, callback);
      // A promise settles the invocation; otherwise the callback does (AWS's rule).
      if (returned && typeof returned.then === "function") {
        returned.then(
          (result) => resolve({ result }),
          (error) => resolve({ error }),
        );
      }
    } catch (error) {
      resolve({ error });
    }
  });
}

async function invoke(request) {
  const requestId = request["invoke-id"];
  currentRequestId = requestId;
  const started = performance.now();
  const deadline = Date.now() + timeoutSeconds * 1000;
  process.stdout.write(`START RequestId: ${requestId} Version: ${env.AWS_LAMBDA_FUNCTION_VERSION}\n`);
  env._X_AMZN_TRACE_ID = request["trace-id"];
  const context = {
    awsRequestId: requestId,
    invokedFunctionArn: request["invoked-function-arn"],
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true, // cannot be honoured: this runtime's server keeps the loop alive
    clientContext: undefined,
    identity: undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };

  let outcome;
  try {
    outcome = await runHandler(JSON.parse(request.payload || "{}"), context);
  } catch (error) {
    outcome = { error };
  }
  pendingFailure = undefined;

  let route;
  let body;
  let exitAfter = Boolean(outcome.fatal);
  if (outcome.timedOut) {
    const message = `${stamp()} ${requestId} Task timed out after ${timeoutSeconds.toFixed(2)} seconds`;
    process.stdout.write(`${message}\n`);
    route = "error";
    body = JSON.stringify({ errorMessage: message });
    exitAfter = true;
  } else if ("error" in outcome) {
    const error = errorBody(outcome.error);
    console.error("Invoke Error \t%s", JSON.stringify(error));
    route = "error";
    body = JSON.stringify(error);
  } else {
    try {
      route = "response";
      body = JSON.stringify(outcome.result === undefined ? null : outcome.result);
    } catch (error) {
      route = "error";
      body = JSON.stringify(errorBody(error));
    }
  }

  const duration = performance.now() - started;
  const memoryMb = Math.round(process.memoryUsage().rss / 1048576);
  const init = initDurationMs === undefined ? "" : `\tInit Duration: ${initDurationMs.toFixed(2)} ms`;
  initDurationMs = undefined;
  process.stdout.write(
    `END RequestId: ${requestId}\nREPORT RequestId: ${requestId}\tDuration: ${duration.toFixed(2)} ms\t` +
      `Billed Duration: ${Math.ceil(duration)} ms\tMemory Size: ${env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE} MB\t` +
      `Max Memory Used: ${memoryMb} MB${init}\t\n`,
  );
  currentRequestId = undefined;
  if (exitAfter) server.close();
  // Logs first: LocalStack attaches the logs it holds when the response or error arrives.
  await post(`/invocations/${requestId}/logs`, JSON.stringify({ logs: takeLogs() }));
  await post(`/invocations/${requestId}/${route}`, body);
  if (exitAfter) process.exit(0);
}

// An error outside the handler's promise kills the runtime in AWS too; report it on the running
// invocation first so the caller sees it.
process.on("uncaughtException", (error) => {
  if (pendingFailure) pendingFailure(error);
  else {
    console.error("Uncaught Exception \t%s", JSON.stringify(errorBody(error)));
    process.exit(129);
  }
});
process.on("unhandledRejection", (reason) => {
  const error = new RuntimeError("Runtime.UnhandledPromiseRejection", `${reason?.stack ?? reason}`);
  if (pendingFailure) pendingFailure(error);
  else {
    console.error("Unhandled Promise Rejection \t%s", JSON.stringify(errorBody(error)));
    process.exit(128);
  }
});

const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/invoke") {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    res.writeHead(200).end();
    invoke(JSON.parse(Buffer.concat(chunks).toString("utf8"))).catch((error) => {
      process.stderr.write(`host-node bootstrap: invocation failed: ${error?.stack ?? error}\n`);
      process.exit(1);
    });
  });
});

// The executor holds our stdin; when it goes away (LocalStack killed) so do we.
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();

await new Promise((resolve) => server.listen(interopPort, "127.0.0.1", resolve));
const initStarted = performance.now();
try {
  handler = await loadHandler(env._HANDLER);
} catch (error) {
  const body = errorBody(error);
  console.error("Init Error \t%s", JSON.stringify(body));
  await post(`/status/${runtimeId}/error`, JSON.stringify(body));
  process.exit(1);
}
initDurationMs = performance.now() - initStarted;
await post(`/status/${runtimeId}/ready`, "");
