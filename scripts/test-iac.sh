#!/usr/bin/env bash
# Offline IaC checks (npm run test:iac): Terraform formatting, structural tests of infra-kind/ and the
# Dockerfile, and checkov over the Terraform, the Kubernetes manifests rendered from it and the
# Dockerfile. No network: providers are never downloaded (so no init/validate), checkov runs from the
# cached venv (scripts/venv.sh) with --skip-download. Waivers: infra-kind/.checkov.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."

# The vitest files this script runs. kind-command.test.ts runs the CronJob's command line against the
# simulator and the machine's Postgres (127.0.0.1:5432).
IAC_TESTS=(
  tests/infra/kind.test.ts
  tests/infra/dockerfile.test.ts
  tests/infra/kind-command.test.ts
)

step() { printf '\n== %s\n' "$*" >&2; }

step "terraform fmt -check -recursive infra-kind"
terraform fmt -check -recursive -diff infra-kind

step "vitest: ${IAC_TESTS[*]}"
npx vitest run --config tests/infra/vitest.iac.config.ts "${IAC_TESTS[@]}"

step "checkov (venv: tools/iac-requirements.txt)"
venv=$(scripts/venv.sh iac tools/iac-requirements.txt)
rendered=$(mktemp -d "${TMPDIR:-/tmp}/kind-manifests.XXXXXX")
trap 'rm -rf "$rendered"' EXIT
npx tsx tests/infra/kind-render.ts "$rendered"

checkov() { "$venv/bin/checkov" --config-file infra-kind/.checkov.yaml --skip-download "$@"; }
checkov -d infra-kind --framework terraform
checkov -d "$rendered" --framework kubernetes
checkov -f Dockerfile --framework dockerfile

step "test:iac passed"
