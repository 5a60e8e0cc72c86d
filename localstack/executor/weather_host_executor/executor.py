"""Runs a LocalStack Lambda execution environment as a host `node` process instead of a container.

The Node side (bootstrap.mjs) speaks the same HTTP contract as LocalStack's Go init: it listens for
`POST /invoke` and calls back `status/ready`, `invocations/<id>/logs` and `.../response|error` on the
gateway. LocalStack's own `ExecutorEndpoint` handles those callbacks, so logs, `FunctionError`, async
retries and the built-in AWS/Lambda metrics behave exactly as with the Docker executor.

Python owns what the Node process cannot do for itself: killing a handler that blocks its event loop
past the function timeout, reporting a process that died, and respawning it on the next invoke.
"""

import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from concurrent.futures import CancelledError, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeoutError
from datetime import UTC, datetime
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    ShutdownDuringStartup,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
    PackageType,
)
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor
from localstack.utils.net import get_free_tcp_port

from weather_host_executor import emf

LOG = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.mjs")
# The bootstrap reports ordinary timeouts itself; this grace only matters for a blocked event loop.
TIMEOUT_GRACE_SECONDS = 2.0
OUTPUT_BUFFER_BYTES = 512 * 1024
STOP_GRACE_SECONDS = 2.0
TIMED_OUT_MARKER = b"Task timed out after"


def node_binary() -> str | None:
    """The node used for every function; HOST_LAMBDA_NODE picks another one (e.g. node 24 from npm)."""
    return os.environ.get("HOST_LAMBDA_NODE") or shutil.which("node")


def gateway_host() -> str:
    host = config.GATEWAY_LISTEN[0].host
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def error_payload(error_type: str | None, message: str) -> bytes:
    body = {"errorMessage": message}
    if error_type:
        body = {"errorType": error_type, **body}
    return json.dumps(body, separators=(",", ":")).encode()


class OutputBuffer:
    """The child's combined stdout/stderr: a bounded tail plus a running byte count, so the output
    of one invocation can be cut out when the process has to be killed before it reports."""

    def __init__(self, limit: int = OUTPUT_BUFFER_BYTES) -> None:
        self._limit = limit
        self._data = bytearray()
        self._total = 0
        self._lock = threading.Lock()

    def append(self, chunk: bytes) -> None:
        with self._lock:
            self._data += chunk
            self._total += len(chunk)
            if len(self._data) > self._limit:
                del self._data[: len(self._data) - self._limit]

    def mark(self) -> int:
        with self._lock:
            return self._total

    def since(self, mark: int) -> str:
        with self._lock:
            start = max(0, len(self._data) - (self._total - mark))
            return bytes(self._data[start:]).decode("utf-8", "replace")

    def text(self) -> str:
        return self.since(0)


class HostNodeRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self.endpoint = ExecutorEndpoint(id, container_address="127.0.0.1")
        self._lock = threading.RLock()
        self._process: subprocess.Popen | None = None
        self._env: dict[str, str] = {}
        self._sandbox: str | None = None
        self._output = OutputBuffer()
        self._current_request: tuple[str, int] | None = None
        self._stopped = False

    # Lifecycle

    def start(self, env_vars: dict[str, str]) -> None:
        config_ = self.function_version.config
        runtime = str(config_.runtime or "")
        if config_.package_type != PackageType.Zip or not runtime.startswith("nodejs"):
            raise StatusErrorException(
                "unsupported runtime",
                payload=error_payload(
                    "Runtime.InvalidRuntime",
                    f"The host-node executor runs zip-packaged nodejs* functions only, not "
                    f"{runtime or config_.package_type}. Use the Docker executor for this function.",
                ),
            )
        if not node_binary():
            raise StatusErrorException(
                "node not found",
                payload=error_payload(
                    "Runtime.InvalidEntrypoint",
                    "No `node` on LocalStack's PATH. Install Node.js or set HOST_LAMBDA_NODE.",
                ),
            )
        self._env = self._build_env(env_vars)
        self._spawn()
        self.endpoint.wait_for_startup()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            process, self._process = self._process, None
        if process is not None:
            _kill_group(process)
        try:
            self.endpoint.shutdown()
        except Exception as e:  # stop() may run before start(), or twice
            LOG.debug("Executor endpoint %s already shut down: %s", self.id, e)
        if self._sandbox:
            shutil.rmtree(self._sandbox, ignore_errors=True)
            self._sandbox = None

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        with self._lock:
            process = self._process
        if process is None or process.poll() is not None:
            # Like Lambda after a timeout or crash: the next invoke gets a fresh init.
            self._respawn()
            with self._lock:
                process = self._process
        request_id = payload["invoke-id"]
        timeout = int(self.function_version.config.timeout)
        mark = self._output.mark()
        with self._lock:
            self._current_request = (request_id, mark)
        watchdog = threading.Timer(
            timeout + TIMEOUT_GRACE_SECONDS,
            self._on_invoke_timeout,
            args=(process, request_id, timeout, mark),
        )
        watchdog.daemon = True
        watchdog.start()
        try:
            result = self.endpoint.invoke(payload)
        finally:
            watchdog.cancel()
            with self._lock:
                self._current_request = None
        if result.is_error and TIMED_OUT_MARKER in (result.payload or b""):
            # The bootstrap reports its own timeout and then exits so the next invoke gets a fresh
            # init; wait for that exit so the next invoke cannot reach the dying process.
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _kill_group(process)
        if result.logs and emf.enabled():
            fn_id = self.function_version.id
            threading.Thread(
                target=emf.forward,
                args=(result.logs, fn_id.account, fn_id.region),
                name=f"emf-{fn_id.function_name}",
                daemon=True,
            ).start()
        return result

    # Addresses

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return gateway_host()

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{gateway_host()}:{port}{self.endpoint.get_endpoint_prefix()}"

    def get_logs(self) -> str:
        return self._output.text()

    # Versions

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        # Never reject a runtime here: that would fail a whole CloudFormation deploy for one
        # function we cannot run. start() reports it at invoke time instead.
        code = function_version.config.code
        if code is not None:
            code.prepare_for_execution()
        for layer in function_version.config.layers or []:
            if layer.code is not None:
                layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass  # LocalStack removes the unzipped code itself.

    @classmethod
    def validate_environment(cls) -> bool:
        node = node_binary()
        if not node:
            LOG.warning("host-node Lambda executor: no `node` on PATH; every invoke will fail.")
            return False
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        LOG.info("host-node Lambda executor: functions run on %s %s", node, version.strip())
        return True

    # Internals

    def _build_env(self, env_vars: dict[str, str]) -> dict[str, str]:
        # A clean environment: nothing of LocalStack's own (config, the user's AWS profile) leaks in.
        env = {key: str(value) for key, value in env_vars.items() if value is not None}
        config_ = self.function_version.config
        code_dir = str(config_.code.get_unzipped_code_location())
        node = node_binary()
        self._sandbox = tempfile.mkdtemp(prefix=f"lambda-{self.function_version.id.function_name}-")
        node_path = []
        for layer in reversed(config_.layers or []):
            if layer.code is not None:
                root = layer.code.get_unzipped_code_location()
                node_path += [f"{root}/nodejs/node_modules"]
        if extra := os.environ.get("HOST_LAMBDA_NODE_PATH"):
            node_path.append(extra)
        node_path += [str(BOOTSTRAP.parent), code_dir]
        env.update(
            {
                "LAMBDA_TASK_ROOT": code_dir,
                "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
                "NODE_PATH": ":".join(node_path),
                "PATH": f"{os.path.dirname(node)}:/usr/local/bin:/usr/bin:/bin",
                "HOME": self._sandbox,
                "TMPDIR": self._sandbox,
                "LANG": "en_US.UTF-8",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{config_.runtime}",
            }
        )
        # The local IoT broker's certificate (start.sh), so `sst dev`'s bridge function can reach it.
        if ca := os.environ.get("HOST_LAMBDA_CA_CERTS"):
            env["NODE_EXTRA_CA_CERTS"] = ca
        # The function's own variables win, as LocalStack applied them last.
        env.update({k: str(v) for k, v in (config_.environment or {}).items()})
        return env

    def _spawn(self) -> None:
        with self._lock:
            if self._stopped:
                raise ShutdownDuringStartup("Execution environment stopped before its runtime started")
            self.endpoint.start()
            port = get_free_tcp_port()
            self.endpoint.container_port = port
            env = dict(self._env, LOCALSTACK_INTEROP_PORT=str(port))
            process = subprocess.Popen(
                [node_binary(), str(BOOTSTRAP)],
                cwd=env["LAMBDA_TASK_ROOT"],
                env=env,
                # The bootstrap exits when stdin closes, so no node survives a killed LocalStack.
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._process = process
        threading.Thread(
            target=self._pump, args=(process,), name=f"lambda-out-{self.id}", daemon=True
        ).start()

    def _respawn(self) -> None:
        self._spawn()
        try:
            self.endpoint.startup_future.result(timeout=config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT)
        except CancelledError as e:
            raise ShutdownDuringStartup("Execution environment stopped during re-init") from e
        except FutureTimeoutError as e:
            with self._lock:
                process, self._process = self._process, None
            if process is not None:
                _kill_group(process)
            raise StatusErrorException(
                "re-init timed out",
                payload=error_payload(
                    "Runtime.InitTimeout",
                    f"Runtime re-init did not finish in {config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT}s",
                ),
            ) from e

    def _pump(self, process: subprocess.Popen) -> None:
        stream = process.stdout
        while chunk := stream.read1(65536):
            self._output.append(chunk)
        code = process.wait()
        self._on_exit(process, code)

    def _on_exit(self, process: subprocess.Popen, code: int) -> None:
        with self._lock:
            if process is not self._process or self._stopped:
                return
            current = self._current_request
        message = f"Runtime exited with error: exit status {code}"
        startup = self.endpoint.startup_future
        if startup is not None and not startup.done():
            _settle(
                startup,
                exception=StatusErrorException(
                    "runtime exited during init",
                    payload=error_payload("Runtime.ExitError", f"Error: {message}"),
                ),
            )
            return
        invocation = self.endpoint.invocation_future
        if current and invocation is not None and not invocation.done():
            request_id, mark = current
            _settle(
                invocation,
                result=InvocationResult(
                    request_id,
                    error_payload("Runtime.ExitError", f"RequestId: {request_id} Error: {message}"),
                    is_error=True,
                    logs=self._output.since(mark) + f"END RequestId: {request_id}\n",
                ),
            )

    def _on_invoke_timeout(
        self, process: subprocess.Popen, request_id: str, timeout: int, mark: int
    ) -> None:
        invocation = self.endpoint.invocation_future
        if invocation is None or invocation.done():
            return
        LOG.debug("Function %s blocked past its timeout; killing its runtime", self.id)
        with self._lock:
            if self._process is process:
                self._process = None
        _kill_group(process)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds"
        logs = self._output.since(mark) + f"{message}\nEND RequestId: {request_id}\n"
        _settle(
            invocation,
            result=InvocationResult(request_id, error_payload(None, message), True, logs),
        )


def _settle(future, result=None, exception=None) -> None:
    """Completes a future unless the runtime's own callback got there first."""
    try:
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
