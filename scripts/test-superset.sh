#!/usr/bin/env bash
# npm run test:superset — the Superset bundle, verified in a real Superset 6 (issue 7):
#   1. a pinned apache-superset in a cached venv outside the clone (scripts/venv.sh; minutes the first
#      time, reused while superset/requirements.txt is unchanged), SQLite metadata in a temp dir;
#   2. gold loaded through the pipeline (simulator source, the last 48 hours) into a throw-away
#      database wdo_superset_* on the machine's Postgres, superset_reader given a one-off password;
#   3. the bundle built with that connection and imported — `superset import-dashboards` is the gate;
#   4. Superset started on 127.0.0.1, then vitest (tests/superset): bundle vs the gold views, every
#      chart's query through /api/v1/chart/data, and the dashboard rendered in headless Chromium,
#      saved as docs/img/dashboard.png.
# Superset is stopped, the database dropped and superset_reader set back to NOLOGIN on exit.
#
# Env: SUPERSET_PG_URL (admin URL of the Postgres server; default DATABASE_URL, else
#      postgres://postgres@127.0.0.1:5432/postgres), VITEST_JSON (also write vitest's JSON report there),
#      SUPERSET_SCREENSHOT (default docs/img/dashboard.png), CHROMIUM (default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t0=$(date +%s)
log() { echo "test-superset: $* [$(($(date +%s) - t0))s]" >&2; }
rand() { python3 -c "import secrets; print(secrets.token_hex($1))"; }

pg_url=${SUPERSET_PG_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
pg_base=${pg_url%/*}
db="wdo_superset_$(rand 4)"
db_url="$pg_base/$db"
work=$(mktemp -d "${TMPDIR:-/tmp}/wdo-superset-XXXXXX")
server_pid=""
load_pid=""

psql_admin() { psql "$pg_url" -v ON_ERROR_STOP=1 -qAt "$@"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$load_pid" ]; then kill "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true; fi
  psql_admin -c "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  psql_admin -c "do \$\$ begin if exists (select from pg_roles where rolname = 'superset_reader') then alter role superset_reader nologin password null; end if; end \$\$" >/dev/null 2>&1 || true
  rm -rf "$work"
  log "done (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_log() { echo "---- $1 (last 40 lines) ----" >&2; tail -n 40 "$1" >&2 || true; }

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  log "installing Debian's chromium"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >"$work/apt.log" 2>&1 \
    || { show_log "$work/apt.log"; exit 1; }
fi

# Gold first, in the background: the pipeline (and its migrations, which create superset_reader)
# runs while Superset sets up its metadata.
log "loading gold into $db (simulator, last 48 hours)"
psql_admin -c "create database $db"
(
  node bin/weather.js backfill --source simulator \
    --from "$(date -u -d '-47 hours' +%Y-%m-%dT%H)" --to "$(date -u +%Y-%m-%dT%H)" \
    --db "$db_url" --raw "$work/raw" --home "$work/weather" --json >"$work/backfill.json"
) >"$work/load.log" 2>&1 &
load_pid=$!

log "superset venv"
venv=$(scripts/venv.sh superset superset/requirements.txt)
export PATH="$venv/bin:$PATH"
export SUPERSET_HOME="$work/home"
export SUPERSET_CONFIG_PATH="$root/superset/superset_config.py"
export SUPERSET_SECRET_KEY
SUPERSET_SECRET_KEY=$(rand 32)
export FLASK_APP=superset
admin_password=$(rand 12)
mkdir -p "$SUPERSET_HOME"

log "superset db upgrade / create-admin / init"
superset db upgrade >"$work/upgrade.log" 2>&1 || { show_log "$work/upgrade.log"; exit 1; }
superset fab create-admin --username admin --firstname Weather --lastname Admin \
  --email admin@localhost --password "$admin_password" >"$work/admin.log" 2>&1 || { show_log "$work/admin.log"; exit 1; }
superset init >"$work/init.log" 2>&1 || { show_log "$work/init.log"; exit 1; }

if ! wait "$load_pid"; then load_pid=""; show_log "$work/load.log"; exit 1; fi
load_pid=""
log "gold loaded: $(psql "$db_url" -qAt -c "select count(*) from gold.v_site_hourly") site-hours"

reader_password=$(rand 16)
psql_admin -c "alter role superset_reader login password '$reader_password'"

log "building and importing the bundle"
pg_host=$(node -e 'console.log(new URL(process.argv[1]).host)' "$pg_url")
SUPERSET_DATABASE_URI="postgresql+psycopg2://superset_reader:$reader_password@$pg_host/$db" \
  npx tsx superset/build-bundle.ts --out "$work/bundle.zip"
superset import-dashboards -p "$work/bundle.zip" -u admin >"$work/import.log" 2>&1 \
  || { show_log "$work/import.log"; log "superset import-dashboards failed"; exit 1; }

port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()")
log "starting superset on 127.0.0.1:$port"
superset run -h 127.0.0.1 -p "$port" --with-threads >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { show_log "$work/server.log"; exit 1; }
  sleep 1
done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { show_log "$work/server.log"; exit 1; }

log "running tests/superset"
reporters=()
if [ -n "${VITEST_JSON:-}" ]; then
  reporters=(--reporter=default --reporter=json "--outputFile.json=$VITEST_JSON")
fi
status=0
SUPERSET_URL="http://127.0.0.1:$port" SUPERSET_ADMIN_USER=admin SUPERSET_ADMIN_PASSWORD="$admin_password" \
  npx vitest run --config tests/superset/vitest.config.ts "${reporters[@]}" || status=$?
[ "$status" -eq 0 ] || show_log "$work/server.log"
exit "$status"
