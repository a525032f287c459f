"""`octopack crawl` then `octopack filter`, as a user runs them, against the real local S3 server."""

from __future__ import annotations

from pathlib import Path

import pytest

from octopack.cli.main import main
from octopack.datasets.store import DatasetStore
from tests.unit.crawler.gitrepo import Repo
from tests.unit.filter.conftest import NEW, OLD, train_tokenizer

pytestmark = pytest.mark.integration


def test_crawl_then_filter(tmp_path: Path, s3_settings, monkeypatch, capsys) -> None:
    for key in ("endpoint", "access_key", "secret_key", "bucket"):
        monkeypatch.setenv(f"OCTOPACK_S3_{key.upper()}", str(getattr(s3_settings, key)))
    monkeypatch.setenv("OCTOPACK_CRAWLER_WORK_DIR", str(tmp_path / "work"))
    repo = Repo(tmp_path / "repo")
    repo.commit("Initial commit", src__arith_DOT_py=OLD)
    repo.commit("Add a comment to the subtraction helper", src__arith_DOT_py=NEW)
    repo.commit("fix: Make the helper return a float value", src__arith_DOT_py=NEW.replace("a + b", "float(a + b)"))
    repo.commit("wip", src__arith_DOT_py=OLD)

    listed = tmp_path / "repos.txt"
    listed.write_text(f"# the repositories to crawl\n\n{tmp_path / 'missing'}   # not there\n")
    assert main(["crawl", str(repo.path), "--repos-file", str(listed), "--dataset", "commits", "--all-licenses"]) == 0
    err = capsys.readouterr().err
    assert "commits@v1" in err and "missing" in err and "message_length" in err and "1 failed" in err
    store = DatasetStore.from_settings(s3_settings)
    assert store.get_manifest("commits").num_rows == 2
    assert store.get_manifest("commits").profile == "paper"
    assert main(["crawl", str(repo.path), "--dataset", "commits", "--profile", "improved", "--with", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err

    tokenizer = train_tokenizer(tmp_path / "tok" / "tokenizer.json")
    config = tmp_path / "filter.yaml"
    config.write_text("bump_sampling: {seed: 'x'}\n")
    assert main(["filter", "commits@v1", "--out", "commitpackft", "--tokenizer", str(tokenizer),
                 "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert "clean_subject" in captured.out and "commitpackft@v1" in captured.err
    out = store.read_table("commitpackft")
    assert sorted(out.column("subject").to_pylist()) == [
        "Add a comment to the subtraction helper", "Make the helper return a float value"]
    assert store.get_manifest("commitpackft").profile == "paper"
    assert main(["filter", "commits@v1", "--out", "commitpackft", "--tokenizer", str(tokenizer),
                 "--profile", "improved", "--without", "www_links"]) == 0
    assert "profile improved" in capsys.readouterr().err
    improved = store.get_manifest("commitpackft")
    assert improved.version == "v2" and improved.profile == "improved"
    assert improved.lineage.filter_config is not None
    active = improved.lineage.filter_config["active_corrections"]
    assert "plug_verb" in active and "www_links" not in active
    assert main(["filter", "commits@v7", "--out", "x", "--tokenizer", str(tokenizer)]) == 2
    assert "commits@v7 does not exist" in capsys.readouterr().err
