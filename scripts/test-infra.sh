#!/usr/bin/env bash
# Offline verification of the cloud stacks (`npm run test:infra`): no AWS credentials, no network
# beyond PyPI for the first venv build.
#   1. vitest: Template.fromStack assertions, cdk-nag, asl-validator, the SST v2 stack test;
#   2. the plain CDK entry through the CDK CLI (aws-cdk 2.1148.1), for prod, local and prod+rds, into
#      temp dirs; cdk-nag runs inside the app, so a finding fails the synth too;
#   3. cfn-lint and checkov on those templates, waivers in tools/.cfnlintrc.yaml and
#      tools/checkov-cfn.yaml (per-resource ones in the templates' Metadata).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/weather-infra.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The CDK CLI must not phone home (notices, version check, telemetry) and must not pick up real creds.
export CDK_DISABLE_VERSION_CHECK=true CDK_DISABLE_CLI_TELEMETRY=true
export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_PROFILE=

echo "== test:infra 1/3: vitest (templates, cdk-nag, ASL, SST stack test)" >&2
npx vitest run -c tests/infra/vitest.infra.config.ts

echo "== test:infra 2/3: cdk synth via the CDK CLI ($(npx cdk --version 2>/dev/null))" >&2
shapes=("prod:stage=prod" "local:stage=local" "prod-rds:stage=prod rds=true")
for shape in "${shapes[@]}"; do
  name=${shape%%:*}
  args=()
  for kv in ${shape#*:}; do args+=(-c "$kv"); done
  npx cdk synth --quiet --no-notices --no-version-reporting --no-path-metadata --no-asset-metadata \
    -o "$work/$name" "${args[@]}" >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
  echo "synthesized $name: $(ls "$work/$name"/*.template.json | xargs -n1 basename | tr '\n' ' ')" >&2
done

echo "== test:infra 3/3: cfn-lint and checkov" >&2
venv=$(scripts/venv.sh iac tools/iac-requirements.txt)
templates=("$work"/*/*.template.json)
"$venv/bin/cfn-lint" --version >&2
"$venv/bin/cfn-lint" --config-file tools/.cfnlintrc.yaml -- "${templates[@]}"
echo "cfn-lint: ${#templates[@]} templates, no unwaived findings" >&2
files=()
for t in "${templates[@]}"; do files+=(-f "$t"); done
"$venv/bin/checkov" --config-file tools/checkov-cfn.yaml "${files[@]}"
echo "test:infra: all checks passed" >&2
