#!/usr/bin/env bash
# Waits until LocalStack's /_localstack/health answers and lists every enabled service as available or
# running. Gives up early when PID (LocalStack's) has exited. usage: wait-for-health.sh [BASE_URL] [SECONDS] [PID]
set -euo pipefail
base=${1:-http://127.0.0.1:4566}
limit=${2:-120}
pid=${3:-}
deadline=$((SECONDS + limit))
while [ "$SECONDS" -lt "$deadline" ]; do
  if body=$(curl -fsS --max-time 2 "$base/_localstack/health" 2>/dev/null) &&
    node -e 'const s=JSON.parse(process.argv[1]).services??{};const bad=Object.entries(s).filter(([,v])=>!["available","running","disabled"].includes(v));process.exit(Object.keys(s).length&&!bad.length?0:1)' "$body"; then
    echo "localstack: healthy at $base" >&2
    exit 0
  fi
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
    echo "localstack: process $pid exited before it became healthy" >&2
    exit 1
  fi
  sleep 1
done
echo "localstack: not healthy at $base after ${limit}s" >&2
exit 1
