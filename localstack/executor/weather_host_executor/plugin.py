"""Plugin entry point. Kept import-light: plux imports this module while it scans entry points, and an
import error here only shows at DEBUG level before LocalStack silently falls back to Docker."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostNodeRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "host-node"

    def load(self, *args, **kwargs):
        # LocalStack calls load() twice (plux, then get_runtime_executor); both must return the class.
        from weather_host_executor.executor import HostNodeRuntimeExecutor

        return HostNodeRuntimeExecutor
