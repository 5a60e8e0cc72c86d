#!/usr/bin/env bash
# npm run local:up — the local cloud: LocalStack 4.13.1 in host mode (localstack/start.sh), the weather
# simulator on 127.0.0.1 (both providers' APIs), a migrated Postgres database, and the SST app deployed
# with the `local` stage (ingest every minute). Idempotent: rerunning redeploys. Stop with local:down.
#
# Environment (all optional):
#   DATABASE_URL         default postgres://postgres@127.0.0.1:5432/weather_local (created if missing)
#   SIMULATOR_PORT       default 8787
#   OPENWEATHER_API_KEY  the dummy key stored in the stack's secret and accepted by the simulator
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
state=${LOCALSTACK_STATE_DIR:-$repo/.weather/localstack}
port=${SIMULATOR_PORT:-8787}
key=${OPENWEATHER_API_KEY:-local-dummy-key}
mkdir -p "$state"

"$repo/localstack/start.sh"

simpid="$state/simulator.pid"
if [ -f "$simpid" ] && kill -0 "$(cat "$simpid")" 2>/dev/null; then
  echo "local:up: simulator already running (pid $(cat "$simpid"))" >&2
else
  # setsid: its own process group, so local-down.sh stops exactly it (tsx runs node as a child).
  setsid node --import tsx "$repo/simulator/server.ts" --port "$port" --api-key "$key" \
    >"$state/simulator.log" 2>&1 </dev/null &
  echo $! >"$simpid"
  for _ in $(seq 1 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/v1/forecast?latitude=0&longitude=0&current=temperature_2m" && break
    sleep 0.2
  done
  echo "local:up: simulator on http://127.0.0.1:$port (pid $(cat "$simpid"), log $state/simulator.log)" >&2
fi

cd "$repo"
SIMULATOR_URL="http://127.0.0.1:$port" OPENWEATHER_API_KEY="$key" node --import tsx localstack/up.ts
