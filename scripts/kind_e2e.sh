#!/usr/bin/env bash
# End-to-end run on kind: create (or reuse) the kind cluster "octopack" (kind/cluster.yaml), build every
# image and deploy the chart with `skaffold run -p kind`, then run the e2e tests against it.
# Needs docker, kind and skaffold on PATH; helm and kubectl come from .venv/bin (scripts/install.sh).
# Usage: scripts/kind_e2e.sh [--delete] [pytest args...]
#   --delete  delete the cluster afterwards (default: keep it for `skaffold dev -p kind`)
set -euo pipefail
cd "$(dirname "$0")/.."

delete=0
if [ "${1:-}" = "--delete" ]; then
  delete=1
  shift
fi
cluster=octopack
namespace=octopack
export PATH="$PWD/.venv/bin:$PATH"

for cmd in docker kind skaffold helm kubectl; do
  command -v "$cmd" >/dev/null || { echo "kind_e2e.sh: $cmd is not on PATH" >&2; exit 2; }
done

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  step "kind create cluster $cluster"
  kind create cluster --config kind/cluster.yaml --wait 180s
fi
if [ "$delete" = 1 ]; then
  trap 'step "kind delete cluster $cluster"; kind delete cluster --name "$cluster"' EXIT
fi
kubectl config use-context "kind-$cluster" >/dev/null

step "skaffold run -p kind (build, load into kind, helm upgrade --install)"
skaffold run --profile kind --kube-context "kind-$cluster" --status-check=true

step "e2e tests"
OCTOPACK_E2E=1 OCTOPACK_E2E_NAMESPACE=$namespace OCTOPACK_E2E_RELEASE=octopack \
  python -m pytest tests/e2e -m e2e -v "$@"
