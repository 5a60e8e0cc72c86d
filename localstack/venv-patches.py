"""Source patches LocalStack 4.13.1 needs to run on Python 3.11, applied to the pinned venv by start.sh.

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
