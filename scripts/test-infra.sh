#!/usr/bin/env bash
# Offline verification of the cloud stacks (`npm run test:infra`): no AWS credentials, no network
# beyond PyPI for the first venv build.
#   1. vitest: Template assertions and cdk-nag on the SST app (tests/infra/stacks-synth.ts), asl-validator;
#   2. the SST app's templates written for prod, local and prod+rds (tests/infra/synth-templates.ts, SST's
#      own offline synthesis under NODE_ENV=test) into a temp dir;
#   3. cfn-lint and checkov on those templates, waivers in tools/.cfnlintrc.yaml and
#      tools/checkov-cfn.yaml (per-resource ones in the templates' Metadata).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/weather-infra.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The CDK CLI must not phone home (notices, version check, telemetry) and must not pick up real creds.
export CDK_DISABLE_VERSION_CHECK=true CDK_DISABLE_CLI_TELEMETRY=true
export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_PROFILE=

echo "== test:infra 1/3: vitest (templates, cdk-nag, ASL)" >&2
npx vitest run -c tests/infra/vitest.infra.config.ts

echo "== test:infra 2/3: the SST app's templates (sst/constructs, offline)" >&2
NODE_ENV=test npx tsx tests/infra/synth-templates.ts "$work"

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
