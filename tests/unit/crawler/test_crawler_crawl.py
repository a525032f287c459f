"""A whole crawl: bad repositories, restarts, forks, licenses, languages, dates and limits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from octopack.common.errors import InvalidArgument
from octopack.services.crawler.crawl import Crawl, CrawlRequest
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.policy import NetworkPolicy
from tests.unit.crawler.gitrepo import Repo

MIT = (
    "MIT License\n\nCopyright (c) 2024 Someone\n\nPermission is hereby granted, free of charge, to any person "
    "obtaining a copy\nof this software ... The above copyright notice and this permission notice shall be "
    "included in all\ncopies or substantial portions of the Software.\n"
)


def _history(repo: Repo, n: int = 3, license_text: str = MIT) -> list[str]:
    repo.commit("Initial commit", LICENSE=license_text, a_DOT_py="x = 0\n", b_DOT_go="package b\n")
    shas = [repo.commit(f"Set x to the value {i}", a_DOT_py=f"x = {i}\n") for i in range(1, n + 1)]
    shas.append(repo.commit("Declare the package main", b_DOT_go="package main\n"))
    return shas


def _run(sources: list[str], store, work: Path, **options) -> Crawl:
    crawl = Crawl(CrawlRequest(sources, "ds", CrawlOptions(**options)), work, workers=2)
    crawl.run(store)
    return crawl


def test_bad_repositories_are_recorded_and_the_others_finish(tmp_path: Path, store) -> None:
    good = Repo(tmp_path / "good")
    shas = _history(good)
    not_git = tmp_path / "plain"
    not_git.mkdir()
    missing = str(tmp_path / "missing")
    (good.path / "sub").mkdir()
    inside = str(good.path / "sub")
    sources = [missing, str(not_git), str(good.path), "https://127.0.0.1:9/none.git", inside, str(good.path / ".git")]
    # Loopback is refused by default (see test_crawler_policy); allowed here to see a failed clone.
    crawl = _run(sources, store, tmp_path / "w", network=NetworkPolicy(allow_private=True))
    p = crawl.progress
    assert p.repositories_done == 2 and p.repositories_failed == 4
    assert "inside the Git repository" in p.errors[inside]
    assert "does not exist" in p.errors[missing]
    assert "not a Git repository" in p.errors[str(not_git)]
    assert "cannot clone" in p.errors["https://127.0.0.1:9/none.git"]
    assert p.error_codes == {missing: "NOT_FOUND", str(not_git): "FAILED_PRECONDITION", inside: "FAILED_PRECONDITION",
                             "https://127.0.0.1:9/none.git": "UNAVAILABLE"}
    rows = store.latest("ds").table().to_pylist()
    assert sorted(r["commit"] for r in rows) == sorted(shas)  # the .git folder is the same repository: a fork
    assert {len(r["repos"]) for r in rows} == {2}
    assert store.latest("ds").committed["extra"]["crawl"]["errors"] == p.errors


def test_restart_skips_done_repositories(tmp_path: Path, store) -> None:
    a, b = Repo(tmp_path / "a"), Repo(tmp_path / "b")
    _history(a)
    _history(b, n=2)
    broken = tmp_path / "later"
    first = _run([str(a.path), str(broken)], store, tmp_path / "w")
    assert first.progress.repositories_done == 1 and first.progress.repositories_failed == 1
    # The broken repository appears; the same request resumes: only it is crawled now.
    Repo(broken).commit("Initial commit", LICENSE=MIT, c_DOT_py="c = 1\n")
    Repo(broken).commit("Set c to the value two", c_DOT_py="c = 2\n")
    second = _run([str(a.path), str(broken)], store, tmp_path / "w")
    assert second.crawl_id == first.crawl_id
    assert second.progress.repositories_resumed == 1 and second.progress.repositories_done == 2
    assert store.latest("ds").table().num_rows == 4 + 1
    # A fresh crawl redoes everything, fetching new commits into the cached mirrors.
    a.commit("Set x to the value from a new commit", a_DOT_py="x = 100\n")
    crawl = Crawl(CrawlRequest([str(a.path), str(broken)], "ds", CrawlOptions(), fresh=True), tmp_path / "w")
    crawl.run(store)
    assert crawl.progress.repositories_resumed == 0 and crawl.progress.repositories_done == 2
    assert store.latest("ds").table().num_rows == 4 + 1 + 1


def test_forks_keep_a_sha_once_with_every_repository(tmp_path: Path, store) -> None:
    origin = Repo(tmp_path / "origin")
    shas = _history(origin)
    fork = tmp_path / "fork"
    # A plain clone is a fork: the same shas, then one more commit.
    subprocess.run(["git", "clone", "-q", str(origin.path), str(fork)], check=True)
    fork_repo = Repo.__new__(Repo)
    fork_repo.path, fork_repo._tick = fork, 50
    extra = fork_repo.commit("Set x to a fork-only value", a_DOT_py="x = 99\n")
    crawl = _run([str(origin.path), str(fork)], store, tmp_path / "w")
    rows = {r["commit"]: r for r in store.latest("ds").table().to_pylist()}
    assert set(rows) == {*shas, extra}
    assert rows[shas[0]]["repos"] == [str(origin.path), str(fork)]
    assert rows[extra]["repos"] == [str(fork)]
    assert crawl.progress.skipped["duplicate_across_repos"] == len(shas)


def test_license_allow_list(tmp_path: Path, store) -> None:
    repo = Repo(tmp_path / "r")
    _history(repo, license_text="All rights reserved.\n")
    crawl = _run([str(repo.path)], store, tmp_path / "w")
    assert crawl.progress.licenses[str(repo.path)] == "unknown"
    assert crawl.progress.skipped["license_not_allowed"] == 1
    assert store.latest("ds").table().num_rows == 0
    crawl = _run([str(repo.path)], store, tmp_path / "w2", licenses=("mit", "unknown"))
    assert store.latest("ds").table().num_rows == 4
    assert set(store.latest("ds").table().column("license").to_pylist()) == {"unknown"}


def test_languages_dates_and_limits(tmp_path: Path, store) -> None:
    repo = Repo(tmp_path / "r")
    shas = _history(repo, n=4)  # hourly commits from 2023-11-14T23:13:20Z
    _run([str(repo.path)], store, tmp_path / "w1", languages=("Go",))
    assert store.latest("ds").table().column("lang").to_pylist() == ["Go"]
    _run([str(repo.path)], store, tmp_path / "w2", max_commits=2)
    assert sorted(store.latest("ds").table().column("commit").to_pylist()) == sorted(shas[-2:])
    _run([str(repo.path)], store, tmp_path / "w3", until="2023-11-15T00:30:00+00:00")
    assert store.latest("ds").table().column("commit").to_pylist() == [shas[0]]


def test_invalid_requests() -> None:
    with pytest.raises(InvalidArgument, match="dataset"):
        CrawlRequest(["x"], "Bad Name!", CrawlOptions()).validate()
    with pytest.raises(InvalidArgument, match="repositories"):
        CrawlRequest([], "ok", CrawlOptions()).validate()
    with pytest.raises(InvalidArgument, match="languages"):
        CrawlRequest(["x"], "ok", CrawlOptions(languages=("Klingon",))).validate()
    with pytest.raises(ValueError, match="ISO 8601"):
        CrawlOptions(since="yesterday")
