#!/usr/bin/env bash
# Starts LocalStack 4.13.1 in host mode (no Docker) on 127.0.0.1:4566 with the project's host-node Lambda
# executor, waits until it is healthy, and records its pid for stop.sh. Idempotent: a running instance
# (by pid file) is reused. Exits non-zero, printing the log tail, when it does not become healthy.
#
# Environment (all optional):
#   LOCALSTACK_STATE_DIR   where state, logs and the pid file live (default: <repo>/.weather/localstack)
#   LOCALSTACK_PORT        gateway port on 127.0.0.1 (default 4566)
#   LAMBDA_KEEPALIVE_MS    how long an idle function process stays warm (default 600000, Lambda-like)
#   HOST_LAMBDA_NODE       the node binary functions run on (default: the pinned Node 24 that Lambda's
#                          nodejs24.x runs, provisioned by scripts/node24.sh and cached outside the clone)
#   LOCALSTACK_WAIT_SECONDS  how long to wait for health (default 120)
#   LOCALSTACK_IOT_ADDRESS the loopback address IoT's DescribeEndpoint returns, where `npm run dev:local`
#                          runs the MQTT broker on port 443 (default 127.0.0.1; any 127.x.y.z works)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
state=${LOCALSTACK_STATE_DIR:-$repo/.weather/localstack}
port=${LOCALSTACK_PORT:-4566}
pidfile="$state/localstack.pid"
logfile="$state/localstack.log"
iot_address=${LOCALSTACK_IOT_ADDRESS:-127.0.0.1}
mkdir -p "$state/fs" "$state/tmp" "$state/iot"

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "localstack: already running (pid $(cat "$pidfile"))" >&2
  exec "$here/wait-for-health.sh" "http://127.0.0.1:$port" "${LOCALSTACK_WAIT_SECONDS:-120}"
fi

# Something else on the port (a LocalStack started from another clone or state dir) would answer the
# health check in place of the one started below, which then cannot bind: refuse instead.
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/_localstack/health"; then
  echo "localstack: 127.0.0.1:$port is already taken by a process not started from $state;" \
    "stop it (LOCALSTACK_STATE_DIR=<its dir> localstack/stop.sh) or set LOCALSTACK_PORT" >&2
  exit 1
fi

venv=$("$repo/scripts/venv.sh" localstack "$here/requirements.txt")
# Functions run on the Node version the deployed runtime has, not on whatever node is on PATH.
HOST_LAMBDA_NODE=${HOST_LAMBDA_NODE:-$(bash "$repo/scripts/node24.sh")/node}

# The executor plugin goes into the shared venv as a .pth link to this clone plus a dist-info with its
# entry point: no build, no network, and a no-op when nothing changed (see executor/link_into_venv.py).
"$venv/bin/python" "$here/executor/link_into_venv.py"
"$venv/bin/python" "$here/venv-patches.py"

# The IoT broker's certificate (localstack/iot-broker.ts serves it; functions and `sst dev` trust it
# through NODE_EXTRA_CA_CERTS). Self-signed, made here once per state directory and address.
if ! openssl x509 -in "$state/iot/cert.pem" -noout -checkip "$iot_address" 2>/dev/null | grep -q 'does match'; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=weather-dataops local IoT" \
    -addext "subjectAltName=IP:$iot_address,DNS:localhost" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$state/iot/key.pem" -out "$state/iot/cert.pem" 2>/dev/null
  chmod 600 "$state/iot/key.pem"
fi

: >"$logfile"
# TMPDIR: LocalStack keeps working files (CloudWatch's metric database among them) under
# <tmp>/localstack; a second instance sharing /tmp would delete the first one's when it stops.
# setsid: LocalStack gets a process group of its own (pgid = pid), so stop.sh ends exactly it; function
# processes run in sessions of their own and are stopped by LocalStack (or exit when their stdin closes).
env -i \
  PATH="$PATH" HOME="$HOME" LANG="${LANG:-C.UTF-8}" \
  ${HOST_LAMBDA_NODE:+HOST_LAMBDA_NODE="$HOST_LAMBDA_NODE"} \
  ${HOST_LAMBDA_NODE_PATH:+HOST_LAMBDA_NODE_PATH="$HOST_LAMBDA_NODE_PATH"} \
  ${HOST_LAMBDA_EMF:+HOST_LAMBDA_EMF="$HOST_LAMBDA_EMF"} \
  ${LS_LOG:+LS_LOG="$LS_LOG"} \
  HOST_LAMBDA_CA_CERTS="$state/iot/cert.pem" \
  LOCALSTACK_IOT_ADDRESS="$iot_address" \
  TMPDIR="$state/tmp" \
  GATEWAY_LISTEN="127.0.0.1:$port" \
  LOCALSTACK_HOST="127.0.0.1:$port" \
  DNS_ADDRESS=0 \
  SKIP_SSL_CERT_DOWNLOAD=1 \
  DISABLE_EVENTS=1 \
  SQS_ENDPOINT_STRATEGY=path \
  FILESYSTEM_ROOT="$state/fs" \
  SERVICES=s3,secretsmanager,sns,sqs,logs,cloudwatch,events,stepfunctions,lambda,iam,sts,cloudformation,ssm,iot \
  LAMBDA_RUNTIME_EXECUTOR=host-node \
  LAMBDA_KEEPALIVE_MS="${LAMBDA_KEEPALIVE_MS:-600000}" \
  CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=1 \
  setsid "$venv/bin/python" -m localstack.runtime.main >>"$logfile" 2>&1 </dev/null &
echo $! >"$pidfile"
echo "localstack: started pid $(cat "$pidfile"), log $logfile" >&2
if ! "$here/wait-for-health.sh" "http://127.0.0.1:$port" "${LOCALSTACK_WAIT_SECONDS:-120}" "$(cat "$pidfile")"; then
  tail -n 40 "$logfile" >&2
  "$here/stop.sh" >&2 || true
  exit 1
fi
if grep -q 'Invalid specified plugin name' "$logfile"; then
  echo "localstack: the host-node executor plugin did not load (see $logfile)" >&2
  "$here/stop.sh" >&2 || true
  exit 1
fi
