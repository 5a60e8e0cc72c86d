#!/usr/bin/env bash
# SQL lint (npm run lint:sql): sqlfluff, PostgreSQL dialect, over every .sql file under sql/ (models and
# migrations); rules and waivers in .sqlfluff. sqlfluff runs from the cached venv (scripts/venv.sh), so
# only the first run needs the network. It takes ~20 s, too slow for `npm run lint`: CI runs it as its
# own step (.ci/run). Extra arguments go to sqlfluff (e.g. a file list).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/venv.sh sqlfluff tools/sql-requirements.txt)
if [ $# -eq 0 ]; then set -- sql; fi
exec "$venv/bin/sqlfluff" lint --processes 1 "$@"
