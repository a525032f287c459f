"""Fixtures of the controller's integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_procs import ControllerProcess, data_services, make_repo


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("git"), 12)


def s3_env(s3_settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "OCTOPACK_S3_ENDPOINT": s3_settings.endpoint,
        "OCTOPACK_S3_ACCESS_KEY": s3_settings.access_key,
        "OCTOPACK_S3_SECRET_KEY": s3_settings.secret_key,
        "OCTOPACK_S3_BUCKET": s3_settings.bucket,
        "OCTOPACK_LOG_LEVEL": "INFO",
    }


@pytest.fixture
def controller_env(s3_settings, tmp_path: Path, ray_head) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Environment of a controller process using a fresh bucket of the session's S3 server, with a crawler and
    a filter service of its own on that bucket, all running their work on the session's Ray head."""
    env = s3_env(s3_settings)
    crawler, filt = data_services(env, ray_head.dashboard, tmp_path)
    yield {
        **env,
        "OCTOPACK_CONTROLLER_CRAWLER_ADDRESS": crawler.address,
        "OCTOPACK_CONTROLLER_FILTER_ADDRESS": filt.address,
        "OCTOPACK_CONTROLLER_RAY_ADDRESS": ray_head.gcs_address,
        "OCTOPACK_CONTROLLER_RAY_DASHBOARD_ADDRESS": ray_head.dashboard,
        "OCTOPACK_CONTROLLER_RAY_POLL_SECONDS": "0.3",
        "OCTOPACK_CONTROLLER_STORE": "s3",
        "OCTOPACK_CONTROLLER_BACKEND": "local",
        "OCTOPACK_CONTROLLER_WORK_DIR": str(tmp_path / "work"),
        "OCTOPACK_CONTROLLER_RESULTS_DIR": str(tmp_path / "results"),
    }
    crawler.stop()
    filt.stop()


@pytest.fixture
def controller(controller_env: dict[str, str], tmp_path: Path) -> Iterator[ControllerProcess]:
    proc = ControllerProcess(controller_env, tmp_path / "controller.log").start()
    yield proc
    proc.stop()
