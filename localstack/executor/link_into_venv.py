"""Makes the executor plugin importable and discoverable in the running interpreter's venv without a
build: a .pth file puts this directory on sys.path and a minimal dist-info carries the entry point
from pyproject.toml (importlib.metadata, and so plux, find plugins through dist-info entry points).
Idempotent: files are rewritten only when their content changes, which keeps plux's entry-point cache
(keyed on their mtimes) valid across starts. Run with the venv's python: `python link_into_venv.py`.
"""

import sysconfig
import tomllib
from pathlib import Path

here = Path(__file__).resolve().parent
project = tomllib.loads((here / "pyproject.toml").read_text())["project"]
name, version = project["name"], project["version"]
site = Path(sysconfig.get_paths()["purelib"])
dist = site / f"{name.replace('-', '_')}-{version}.dist-info"

entry_points = "".join(
    f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items()) + "\n"
    for group, entries in project.get("entry-points", {}).items()
)
files = {
    site / f"{name.replace('-', '_')}.pth": f"{here}\n",
    dist / "METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    dist / "entry_points.txt": entry_points,
    dist / "INSTALLER": "weather-dataops localstack/start.sh\n",
}
for stale in site.glob(f"{name.replace('-', '_')}-*.dist-info"):
    if stale != dist:
        for f in stale.iterdir():
            f.unlink()
        stale.rmdir()
dist.mkdir(exist_ok=True)
for path, text in files.items():
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
