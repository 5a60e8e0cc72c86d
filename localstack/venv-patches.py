"""Source patches LocalStack 4.13.1 needs, applied to the pinned venv by start.sh.

1. Python 3.11 (below).
2. EventBridge -> Step Functions targets with InputPath/Input/InputTransformer: the target sender names
   the execution after `event["id"]` *after* the input was transformed, so any rule that passes only
   `$.detail` (the CDK's `RuleTargetInput.fromEventPath`) fails every delivery with
   `TargetDeliveryFailure ... 'id'` and never starts the state machine. AWS generates a name in that
   case; the patch falls back to a UUID.
3. Lambda ignores a function's `LoggingConfig.LogGroup` and always writes `/aws/lambda/<name>`; the CDK
   `logGroup` prop (our explicit log groups with retention) sets it. The patch honours it, as AWS does.
4. EventBridge `DisableRule` only flips the rule's state: the job of a scheduled rule keeps firing its
   targets (its enabled flag is read once, when targets are put). The patch makes the job skip
   disabled rules, so stopping ingestion by disabling the schedule works as on AWS.
5. CloudFormation (engine v2) `DescribeStackResources` iterates the stack's resource dict, deep-copying
   each entry, while the deploy thread adds entries: a poll during a deploy can answer
   `InternalError: dictionary changed size during iteration`, and `sst deploy` (which polls it every
   second) then fails a deploy that went on to complete (seen 2026-12-07 on the Pipeline stack). The
   patch iterates over a snapshot (`list(...)`, `dict(...)`: single C-level copies under the GIL).

4.13.1 is the last Apache-2.0 build that installs on 3.11, but it is only exercised upstream on 3.13,
where `threading.Lock` is a class. On 3.11 it is a function, so the annotation `Lock | None` raises
TypeError when `localstack.packages.api` is imported -- and with it the whole Step Functions provider
(every CreateStateMachine answers InternalError). Importing every module of the services we enable
after this one patch shows no other failure. Idempotent; exits non-zero when a patch no longer
matches, i.e. the pins changed and the patch list must be revisited.
"""

import sys
import sysconfig
from pathlib import Path

PATCHES = [
    (
        "localstack/packages/api.py",
        "install_lock: Lock | None = None",
        'install_lock: "Lock | None" = None',
    ),
    (
        "localstack/services/events/target.py",
        'stateMachineArn=self.target["Arn"], name=event["id"], input=to_json_str(event)',
        'stateMachineArn=self.target["Arn"], name=event["id"] if isinstance(event, dict) and "id" in event'
        ' else str(__import__("uuid").uuid4()), input=to_json_str(event)',
    ),
    (
        "localstack/services/lambda_/invocation/execution_environment.py",
        'return f"/aws/lambda/{self.function_version.id.function_name}"',
        'return (self.function_version.config.logging_config or {}).get("LogGroup") or (\n'
        '            f"/aws/lambda/{self.function_version.id.function_name}"\n'
        "        )",
    ),
    (
        "localstack/services/cloudformation/v2/provider.py",
        "        for resource_id, resource_status in stack.resource_states.items():\n"
        "            if resource_id == logical_resource_id or logical_resource_id is None:\n"
        "                status = copy.deepcopy(resource_status)\n",
        "        for resource_id, resource_status in list(stack.resource_states.items()):\n"
        "            if resource_id == logical_resource_id or logical_resource_id is None:\n"
        "                status = copy.deepcopy(dict(resource_status))\n",
    ),
    (
        "localstack/services/events/provider.py",
        "send it to all targets specified by associated rule using respective TargetSender\"\"\"\n",
        "send it to all targets specified by associated rule using respective TargetSender\"\"\"\n"
        "            if rule.state == \"DISABLED\":  # weather-dataops patch: disabled rules do not fire\n"
        "                return\n",
    ),
]

site = Path(sysconfig.get_paths()["purelib"])
for relative, old, new in PATCHES:
    path = site / relative
    text = path.read_text()
    if new in text:
        continue
    if old not in text:
        sys.exit(f"venv-patches: {path} matches neither the original nor the patched text; review PATCHES")
    path.write_text(text.replace(old, new))
    print(f"venv-patches: patched {relative}", file=sys.stderr)
