"""CloudWatch Embedded Metric Format (EMF) → PutMetricData, which AWS does when it ingests a log event
and LocalStack does not do at all. Only whole-line JSON objects count, as in AWS: a `console.log` line
carries the runtime's `timestamp\\trequestId\\tLEVEL\\t` prefix and is not extracted there either, which
is why Powertools Metrics writes to `process.stdout` directly.
"""

import json
import logging
import os
from collections import Counter, defaultdict
from datetime import UTC, datetime

LOG = logging.getLogger(__name__)

# CloudWatch's own unit names; anything else is sent as "None" rather than failing the whole batch.
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
}  # fmt: skip
BATCH = 20  # the smallest PutMetricData limit any CloudWatch version had


def enabled() -> bool:
    return os.environ.get("HOST_LAMBDA_EMF", "1").lower() not in ("0", "false", "no", "off")


def _numbers(value) -> list[float] | None:
    values = value if isinstance(value, list) else [value]
    if not values or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        return None
    return [float(v) for v in values]


def metric_data(logs: str) -> dict[str, list[dict]]:
    """Parses EMF documents out of one invocation's log text into PutMetricData `MetricData` entries,
    keyed by namespace. Invalid documents are skipped, as CloudWatch skips them."""
    by_namespace: dict[str, list[dict]] = defaultdict(list)
    for line in logs.splitlines():
        line = line.strip()
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        try:
            doc = json.loads(line)
            meta = doc["_aws"]
            timestamp = datetime.fromtimestamp(int(meta["Timestamp"]) / 1000, UTC)
            directives = meta["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            continue
        for directive in directives if isinstance(directives, list) else []:
            if not isinstance(directive, dict) or not directive.get("Namespace"):
                continue
            dimension_sets = directive.get("Dimensions") or [[]]
            for metric in directive.get("Metrics") or []:
                name = metric.get("Name") if isinstance(metric, dict) else None
                values = _numbers(doc.get(name)) if name else None
                if values is None:
                    continue
                counts = Counter(values)
                unit = metric.get("Unit", "None")
                for dimension_set in dimension_sets:
                    dimensions = [
                        {"Name": key, "Value": str(doc[key])}
                        for key in dimension_set
                        if isinstance(key, str) and key in doc
                    ]
                    if len(dimensions) != len(dimension_set):
                        continue  # a dimension without a value makes the directive invalid
                    datum = {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Timestamp": timestamp,
                        "Unit": unit if unit in UNITS else "None",
                        "StorageResolution": 1 if metric.get("StorageResolution") == 1 else 60,
                    }
                    if len(counts) == 1 and len(values) == 1:
                        datum["Value"] = values[0]
                    else:
                        datum["Values"] = list(counts.keys())
                        datum["Counts"] = [float(c) for c in counts.values()]
                    by_namespace[directive["Namespace"]].append(datum)
    return by_namespace


def forward(logs: str, account_id: str, region: str) -> None:
    """Sends the invocation's EMF metrics to LocalStack CloudWatch in the function's account/region."""
    try:
        data = metric_data(logs)
        if not data:
            return
        from localstack.aws.connect import connect_to

        client = connect_to(aws_access_key_id=account_id, region_name=region).cloudwatch
        for namespace, entries in data.items():
            for i in range(0, len(entries), BATCH):
                client.put_metric_data(Namespace=namespace, MetricData=entries[i : i + BATCH])
    except Exception as e:  # metrics must never break an invocation
        LOG.warning("host-node executor: could not forward EMF metrics: %s", e)
