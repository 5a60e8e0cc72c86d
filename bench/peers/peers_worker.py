"""The peers' side of bench:peers (bench/peers.ts): dlt loads and dbt runs, timed inside one warm
Python process so that interpreter start-up and imports are not charged to either (ours runs in a
warm Node process too).

Reads one JSON command per line on stdin and answers one JSON line on stdout; progress goes to stderr.
  {"op": "prepare", "rows_file": PATH}     read the bench's rows (JSON lines) into dicts and an Arrow
                                           table once; reading is not timed
  {"op": "dlt", "mode": "arrow"|"dicts", "url": URL, "dataset": NAME, "pipelines_dir": DIR}
        one pipeline.run() of all rows, write disposition merge on bronze's key (delete-insert),
        the same semantics as our upsert; "arrow" uses the csv loader (COPY), "dicts" dlt's default
        insert_values loader. The first run of a dataset is a first load, the next a rerun.
  {"op": "dbt", "project_dir": DIR, "env": {...}, "args": [...]}   one dbtRunner().invoke(args)
        with `env` set first (the profile's database), and the models' own execution times
Run by bench/peers.ts with the cached venv of tools/peers-requirements.txt; not meant to be run alone.
"""

import json
import os
import sys
import time
from datetime import datetime

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

# The answers go to a copy of stdout; whatever dlt or dbt print on stdout lands on stderr instead.
answers = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

import dlt  # noqa: E402
import pyarrow as pa  # noqa: E402
from dbt.cli.main import dbtRunner  # noqa: E402

KEY = ["site_id", "source", "observed_at", "kind"]
FLOATS = [
    "temperature_c",
    "feels_like_c",
    "humidity_pct",
    "pressure_hpa",
    "wind_speed_ms",
    "wind_gust_ms",
    "wind_direction_deg",
    "cloud_cover_pct",
    "precipitation_mm",
]
# payload is bronze's jsonb: declared json so dlt neither flattens it (dicts) nor types it text (Arrow).
COLUMN_HINTS = {"payload": {"data_type": "json"}}
ARROW_SCHEMA = pa.schema(
    [
        ("site_id", pa.string()),
        ("source", pa.string()),
        ("observed_at", pa.timestamp("us", tz="UTC")),
        ("kind", pa.string()),
        *[(c, pa.float64()) for c in FLOATS],
        ("precipitation_window_minutes", pa.int32()),
        ("condition_code", pa.string()),
        ("condition_system", pa.string()),
        ("ingestion_run_id", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
        ("raw_object_key", pa.string()),
        ("payload", pa.string()),
    ]
)

state = {}


def log(msg):
    sys.stderr.write(f"[peers_worker] {msg}\n")
    sys.stderr.flush()


def prepare(cmd):
    dicts = []
    arrow_rows = []
    with open(cmd["rows_file"], encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            r["observed_at"] = datetime.fromisoformat(r["observed_at"].replace("Z", "+00:00"))
            r["ingested_at"] = datetime.fromisoformat(r["ingested_at"].replace("Z", "+00:00"))
            # JSON prints 10.0 as 10: without this, dlt would type whole-number columns bigint.
            for c in FLOATS:
                if r[c] is not None:
                    r[c] = float(r[c])
            dicts.append(r)
            arrow_rows.append({**r, "payload": json.dumps(r["payload"], separators=(",", ":"))})
    state["dicts"] = dicts
    state["arrow"] = pa.Table.from_pylist(arrow_rows, schema=ARROW_SCHEMA)
    return {"rows": len(dicts)}


def run_dlt(cmd):
    mode = cmd["mode"]
    pipeline = dlt.pipeline(
        pipeline_name=cmd["dataset"],
        pipelines_dir=cmd["pipelines_dir"],
        destination=dlt.destinations.postgres(credentials=cmd["url"]),
        dataset_name=cmd["dataset"],
    )
    # A fresh list each run: dlt may annotate the dicts it is given.
    data = state["arrow"] if mode == "arrow" else [dict(r) for r in state["dicts"]]
    t0 = time.perf_counter()
    info = pipeline.run(
        data,
        table_name="weather_observations",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=KEY,
        columns=COLUMN_HINTS,
        loader_file_format="csv" if mode == "arrow" else None,
    )
    seconds = time.perf_counter() - t0
    info.raise_on_failed_jobs()
    formats = sorted(
        {j.job_file_info.file_format for p in info.load_packages for j in p.jobs["completed_jobs"]}
    )
    return {"seconds": seconds, "file_formats": formats}


def run_dbt(cmd):
    os.environ.update(cmd.get("env", {}))
    t0 = time.perf_counter()
    res = dbtRunner().invoke(
        [*cmd["args"], "--project-dir", cmd["project_dir"], "--profiles-dir", cmd["project_dir"]]
    )
    seconds = time.perf_counter() - t0
    models = {}
    if res.result is not None and hasattr(res.result, "results"):
        for r in res.result.results:
            models[r.node.name] = {"status": str(r.status), "seconds": r.execution_time}
    if not res.success:
        raise RuntimeError(f"dbt {' '.join(cmd['args'])} failed: {res.exception or models}")
    return {"seconds": seconds, "models": models}


OPS = {"prepare": prepare, "dlt": run_dlt, "dbt": run_dbt}

for line in sys.stdin:
    if not line.strip():
        continue
    cmd = json.loads(line)
    try:
        out = {"ok": True, **OPS[cmd["op"]](cmd)}
    except Exception as e:  # the bench reports the failure and stops
        out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    answers.write(json.dumps(out) + "\n")
    answers.flush()
