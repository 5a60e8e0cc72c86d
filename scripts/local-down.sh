#!/usr/bin/env bash
# npm run local:down — stops what local:up started: the simulator and LocalStack (whose state is not
# persisted, so the deployment goes with it). The database stays unless --drop-database is given.
#
# Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/weather_local), for --drop-database.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
state=${LOCALSTACK_STATE_DIR:-$repo/.weather/localstack}
simpid="$state/simulator.pid"
if [ -f "$simpid" ]; then
  pid=$(cat "$simpid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    echo "local:down: simulator stopped (pid $pid)" >&2
  fi
  rm -f "$simpid"
fi
"$repo/localstack/stop.sh"
if [ "${1:-}" = "--drop-database" ]; then
  cd "$repo"
  node --import tsx -e '
    const { dropDatabase, DEFAULT_DATABASE_URL } = await import("./localstack/local-cloud.ts");
    const url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
    await dropDatabase(url);
    console.error(`local:down: dropped ${new URL(url).pathname.slice(1)}`);
  '
fi
