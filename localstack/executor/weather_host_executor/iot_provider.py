"""LocalStack `iot` provider: the one AWS IoT call `sst dev` makes, answered with the loopback broker.

LocalStack 4.13.1's Apache-2.0 build has no IoT service. SST v2's live Lambda (the `sst dev` CLI and the
bridge function each deployed function becomes) calls `DescribeEndpoint(endpointType=iot:Data-ATS)`
and opens `wss://<endpointAddress>:443/mqtt`. This provider answers the data endpoint types with
LOCALSTACK_IOT_ADDRESS (start.sh: 127.0.0.1 unless told), where localstack/iot-broker.ts listens;
every other IoT call goes to moto's model, as LocalStack does for its own moto-backed services.
"""

import os

from localstack.aws.api import RequestContext, handler
from localstack.aws.skeleton import DispatchTable, create_dispatch_table
from localstack.aws.spec import load_service
from localstack.services.moto import call_moto
from localstack.services.plugins import Service, aws_provider

DATA_ENDPOINTS = {"iot:Data", "iot:Data-ATS"}


class IotProvider:
    service = "iot"

    @handler("DescribeEndpoint", expand=False)
    def describe_endpoint(self, context: RequestContext, request: dict) -> dict:
        # An absent type means the legacy data endpoint, as on AWS.
        if request.get("endpointType", "iot:Data") in DATA_ENDPOINTS:
            return {"endpointAddress": os.environ.get("LOCALSTACK_IOT_ADDRESS", "127.0.0.1")}
        return call_moto(context)


def _moto(context: RequestContext, _request: dict) -> dict:
    return call_moto(context)


def _dispatch_table(provider: IotProvider) -> DispatchTable:
    # Every operation of the IoT model goes to moto unless the provider handles it (LocalStack's own
    # MotoFallbackDispatcher only wraps operations the provider class declares).
    table: DispatchTable = {op: _moto for op in load_service("iot").operation_names}
    table.update(create_dispatch_table(provider))
    return table


@aws_provider(api="iot")
def iot():
    return Service.for_provider(IotProvider(), dispatch_table_factory=_dispatch_table)
