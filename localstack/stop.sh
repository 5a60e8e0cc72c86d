#!/usr/bin/env bash
# Stops the LocalStack that start.sh started (by its pid file). LocalStack's own shutdown stops the
# function processes; any that outlive a hard kill exit when their stdin closes. Safe to run when
# nothing is running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
state=${LOCALSTACK_STATE_DIR:-$repo/.weather/localstack}
pidfile="$state/localstack.pid"
[ -f "$pidfile" ] || { echo "localstack: not running (no $pidfile)" >&2; exit 0; }
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
  # start.sh ran LocalStack under setsid, so its pid is also its process group id.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  echo "localstack: stopped pid $pid" >&2
fi
rm -f "$pidfile"
