#!/usr/bin/env bash
# Prints the path of a Python venv holding exactly the pins in a requirements file, creating it when
# needed. Venvs live outside the clone (~/.cache/weather-dataops/venvs/NAME-HASH) and are reused while
# the pins (and the Python version) are unchanged, so CI on a fresh clone does not reinstall each time.
#
#   usage: scripts/venv.sh NAME REQUIREMENTS_FILE   -> prints the venv directory on stdout
set -euo pipefail
name=${1:?usage: scripts/venv.sh NAME REQUIREMENTS_FILE}
req=${2:?usage: scripts/venv.sh NAME REQUIREMENTS_FILE}
python=${PYTHON:-python3}
[ -f "$req" ] || { echo "venv.sh: no such requirements file: $req" >&2; exit 2; }
hash=$( { cat "$req"; "$python" --version; } | sha256sum | cut -c1-12)
root=${WEATHER_CACHE_DIR:-$HOME/.cache/weather-dataops}/venvs
dir="$root/$name-$hash"
if [ ! -f "$dir/.complete" ]; then
  echo "venv.sh: installing $name from $req into $dir (once per pin set)" >&2
  rm -rf "$dir"
  mkdir -p "$root"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$dir/.complete"
  # Older venvs of the same name are stale pin sets: remove them.
  for old in "$root/$name"-*; do
    [ "$old" = "$dir" ] || rm -rf "$old"
  done
fi
echo "$dir"
