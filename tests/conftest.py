"""Shared test fixtures. Area-specific fixtures live in each test folder's conftest.py."""

from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from octopack.ray_jobs.cluster import SINGLE_MACHINE_ENV

if TYPE_CHECKING:
    from octopack.common.objectstore import S3Settings
    from octopack.common.s3server import LocalS3Server
    from octopack.ray_jobs.cluster import LocalRayHead

# Every Ray of the tests is a single-machine cluster on loopback: a driver of this process that joins one
# (ray.init(address=head.gcs_address)) keeps 127.0.0.1 instead of the machine's outside address, where
# the head does not listen.
for _key, _value in SINGLE_MACHINE_ENV.items():
    os.environ.setdefault(_key, _value)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Material beside the repository (real Git histories as bundles); a user's clone does not have it.
SHARED = ROOT.parent / "shared"


def tool(name: str) -> str:
    """Path of a command-line tool installed by scripts/install.sh (in .venv/bin or on PATH)."""
    local = BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/install.sh")
    return found


def shared_bundle(name: str) -> Path:
    """``../shared/data/repos/<name>.bundle``, or skip the test saying why it is absent."""
    path = SHARED / "data" / "repos" / f"{name}.bundle"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real Git histories live beside the repository in ../shared")
    return path


@pytest.fixture(scope="session")
def real_histories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bare clones of the shared real histories (psf/requests, pallets/click), made once per run."""
    import subprocess

    out = tmp_path_factory.mktemp("real-histories")
    repos = {}
    for name in ("requests", "click"):
        bundle = shared_bundle(name)
        target = out / f"{name}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(bundle), str(target)], check=True)
        repos[name] = target
    return repos


@pytest.fixture(scope="session")
def grpcurl() -> str:
    return tool("grpcurl")


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3Server]:
    """A real S3 server (SeaweedFS ``weed mini``) on free loopback ports, one per pytest run.

    Started on first use (about 2 s, about 200 MB), killed (SIGKILL on its own PID) at the end of
    the run. It has ``.endpoint`` (``http://127.0.0.1:PORT``), ``.address`` (``host:port``),
    ``.access_key``, ``.secret_key`` and ``.settings(bucket)`` -> :class:`S3Settings`.
    Credentials are enforced: a wrong secret gets SignatureDoesNotMatch.

    The server is shared by every test of the run: never use a fixed bucket. Take
    ``s3_settings`` (a fresh, empty bucket per test) or make your own unique bucket or prefix.
    """
    from octopack.common.s3server import LocalS3Server

    server = LocalS3Server(tmp_path_factory.mktemp("s3"))
    try:
        server.start()
    except Exception as exc:
        pytest.fail(f"could not start the local S3 server (run scripts/install.sh): {exc}")
    yield server
    server.stop()
    shutil.rmtree(server.data_dir / "data", ignore_errors=True)  # keep only weed.log


@pytest.fixture
def s3_settings(s3: LocalS3Server, request: pytest.FixtureRequest) -> S3Settings:
    """:class:`S3Settings` for a new, empty bucket on the run's ``s3`` server (one per test).

    ``ObjectStore(s3_settings)`` or ``DatasetStore.from_settings(s3_settings)`` talk to it;
    ``.pyarrow_filesystem()`` serves pyarrow and pandas. A subprocess reaches it through the
    environment: ``OCTOPACK_S3_ENDPOINT``, ``_ACCESS_KEY``, ``_SECRET_KEY``, ``_BUCKET`` set from
    ``.endpoint``, ``.access_key``, ``.secret_key``, ``.bucket``.
    """
    from octopack.common.objectstore import ObjectStore

    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-") or "test"
    settings = s3.settings(bucket=f"t-{stem}-{uuid.uuid4().hex[:8]}")
    ObjectStore(settings).ensure_bucket()
    return settings


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRayHead]:
    """A Ray head (with its dashboard's job API) on free loopback ports, one per pytest run.

    The crawler and filter services submit their Ray jobs to ``.dashboard``; ``.gcs_address`` joins it as a
    driver. Started on first use (15-40 s), its process group ended at the end of the run.
    """
    pytest.importorskip("ray", reason="needs the [train] extra (Ray)")
    from octopack.ray_jobs.cluster import LocalRayHead

    head = LocalRayHead(num_cpus=2, temp_dir=Path(f"/tmp/ray-t{uuid.uuid4().hex[:6]}"),
                        log_path=tmp_path_factory.mktemp("ray") / "ray.log")
    head.start()
    yield head
    head.stop()
    shutil.rmtree(head.temp_dir, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Heavy suites run only with OCTOPACK_FULL_TESTS=1; e2e only with OCTOPACK_E2E=1."""
    full = os.environ.get("OCTOPACK_FULL_TESTS") == "1"
    e2e = os.environ.get("OCTOPACK_E2E") == "1"
    for item in items:
        if "full" in item.keywords and not full:
            item.add_marker(pytest.mark.skip(reason="heavy suite: run scripts/test.sh --full"))
        if "e2e" in item.keywords and not e2e:
            item.add_marker(
                pytest.mark.skip(reason="needs a Kubernetes cluster: OCTOPACK_E2E=1 (see README)")
            )
