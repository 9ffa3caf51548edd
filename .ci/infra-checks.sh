#!/usr/bin/env bash
# Infrastructure checks, run by .ci/run before `dotnet test`:
#   - installs infra/tools' pinned Node packages (@cdktf/hcl2json), which tests/Pipeline.Infra.Tests uses to
#     read infra/*.tf and compare it with the code;
#   - checks that the Terraform is formatted.
# `terraform validate` needs the provider plugin, which cannot be downloaded here; the wiring tests check the
# part of the configuration that the code depends on.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in node npm terraform; do
  command -v "$tool" >/dev/null || { echo "infra-checks: $tool is not installed" >&2; exit 1; }
done

(cd infra/tools && npm ci --no-audit --no-fund --loglevel=error)
terraform fmt -check -recursive -diff infra
echo "infra-checks: infra/tools packages installed; terraform fmt -check passed"
