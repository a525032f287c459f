#!/usr/bin/env bash
# Install what the tests need, then lint, type-check and run the test suite.
# Usage: scripts/test.sh [--full] [pytest args...]
#   --full  also run the heavy suites (all 984 x 2 HumanEvalPack programs, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--full" ]; then
  export OCTOPACK_FULL_TESTS=1
  shift
fi

bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "==> ruff"
ruff check .
echo "==> mypy"
python scripts/typecheck.py
echo "==> generated protobuf code"
python scripts/gen_protos.py --check
echo "==> pytest"
python -m pytest "$@"
