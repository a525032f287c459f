"""``octopack datasets`` against the real S3 server (and a DatasetService for --server)."""

from __future__ import annotations

import asyncio
import json

import pytest

from octopack.cli.main import main
from octopack.common.objectstore import S3Settings
from octopack.common.server import start_server
from octopack.datasets.store import DatasetStore
from octopack.services.datasets.server import datasets_service
from octopack.services.datasets.settings import DatasetsSettings
from tests.integration.datasets.conftest import commitpack_rows

pytestmark = pytest.mark.integration


@pytest.fixture
def env(s3_settings: S3Settings, monkeypatch: pytest.MonkeyPatch, store: DatasetStore) -> DatasetStore:
    for field in ("endpoint", "access_key", "secret_key", "bucket"):
        monkeypatch.setenv(f"OCTOPACK_S3_{field.upper()}", getattr(s3_settings, field))
    monkeypatch.setenv("COLUMNS", "200")
    writer = store.create_version("commitpack", job_id="crawl-1")
    writer.write(commitpack_rows(250))
    writer.commit(stats={"seen": 300})
    return store


def test_list_show_export(env: DatasetStore, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "commitpack" in out and "250" in out and "crawl-1" in out
    assert main(["datasets", "show", "commitpack@v1"]) == 0
    out = capsys.readouterr().out
    assert "old_contents" in out and "part-00001" in out and '"seen": 300' in out
    assert main(["datasets", "show", "commitpack", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_rows"] == 250
    target = tmp_path / "out.jsonl"
    assert main(["datasets", "export", "commitpack", "--format", "jsonl", "--out", str(target)]) == 0
    assert [json.loads(line) for line in target.read_text().splitlines()] == commitpack_rows(250)
    assert main(["datasets", "export", "commitpack@v1", "--columns", "commit", "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [{"commit": r["commit"]} for r in commitpack_rows(3)]


def test_clear_errors(env: DatasetStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "show", "nope"]) == 2
    assert "error: dataset 'nope' has no committed version" in capsys.readouterr().err
    assert main(["datasets", "show", "commitpack@v7"]) == 2
    assert "commitpack@v7 does not exist" in capsys.readouterr().err
    assert main(["datasets", "export", "Bad"]) == 2
    assert "regex" in capsys.readouterr().err
    assert main(["datasets", "delete", "commitpack"]) == 2
    assert "explicit version" in capsys.readouterr().err
    assert main(["datasets", "delete", "commitpack@v1"]) == 0
    assert main(["datasets", "list"]) == 0
    assert "no datasets yet" in capsys.readouterr().out


async def test_through_the_service(env: DatasetStore, s3_settings: S3Settings, capsys) -> None:
    settings = DatasetsSettings(host="127.0.0.1", port=0)
    running = await start_server(settings, [datasets_service(settings, s3_settings)])
    try:
        code = await asyncio.to_thread(main, ["datasets", "--server", running.address, "list"])
        assert code == 0 and "commitpack" in capsys.readouterr().out
        code = await asyncio.to_thread(
            main, ["datasets", "--server", running.address, "export", "commitpack", "--limit", "2"]
        )
        assert code == 0 and len(capsys.readouterr().out.splitlines()) == 2
        code = await asyncio.to_thread(main, ["datasets", "--server", running.address, "show", "nope@v1"])
        assert code == 2 and "nope@v1 does not exist" in capsys.readouterr().err
    finally:
        await running.stop(0)
