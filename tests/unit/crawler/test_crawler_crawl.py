"""A whole crawl: bad repositories, restarts, forks, licenses, languages, dates and limits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from octopack.common.errors import InvalidArgument
from octopack.services.crawler.crawl import CrawlRequest
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.policy import NetworkPolicy
from octopack.services.crawler.task import REPOS
from tests.unit.crawler.conftest import crawl_here
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
    crawl, table = crawl_here(sources, store, tmp_path / "w", network=NetworkPolicy(allow_private=True))
    p = crawl.progress
    assert p.repositories_done == 2 and p.repositories_failed == 4
    assert "inside the Git repository" in p.errors[inside]
    assert "does not exist" in p.errors[missing]
    assert "not a Git repository" in p.errors[str(not_git)]
    assert "cannot clone" in p.errors["https://127.0.0.1:9/none.git"]
    assert p.error_codes == {missing: "NOT_FOUND", str(not_git): "FAILED_PRECONDITION", inside: "FAILED_PRECONDITION",
                             "https://127.0.0.1:9/none.git": "UNAVAILABLE"}
    rows = table.to_pylist()
    assert sorted(r["commit"] for r in rows) == sorted(shas)  # the .git folder is the same repository: a fork
    assert {len(r["repos"]) for r in rows} == {2}
    manifest = store.get_manifest("ds", p.version)
    assert manifest.extra["crawl"]["errors"] == p.errors
    # The staging area keeps each repository's completion marker, not its intermediate samples.
    left = [o.key for o in store.objects.list(store.version_prefix("ds", p.version) + REPOS)]
    assert left and all(key.endswith(".json") for key in left)


def test_a_run_resumes_what_it_staged_and_a_fresh_one_starts_over(tmp_path: Path, store) -> None:
    a, b = Repo(tmp_path / "a"), Repo(tmp_path / "b")
    _history(a)
    _history(b, n=2)
    request = CrawlRequest([str(a.path), str(b.path)], "ds", CrawlOptions()).validate()
    run_id = request.default_run_id()
    # A first driver crawled repository a and died before b: its marker is in the staging area.
    area = store.stage("ds", run_id)
    from octopack.services.crawler.sources import Source
    from octopack.services.crawler.task import crawl_task

    first = crawl_task(Source(0, str(a.path)), request.options.model_dump_json(), area)
    assert first["samples"] == 4 and not first.get("resumed")
    # The same run again finds that marker: only b is crawled now, and one version is committed.
    crawl, table = crawl_here([str(a.path), str(b.path)], store, tmp_path / "w", run_id=run_id)
    assert crawl.progress.repositories_resumed == 1 and crawl.progress.repositories_done == 2
    assert table.num_rows == 4 + 1  # b's first two edits are a's too (same content, dates and author: same shas)
    assert store.list_versions("ds") == [crawl.progress.version]
    # Running a committed run again reads it back: nothing is crawled or written.
    again, _ = crawl_here([str(a.path), str(b.path)], store, tmp_path / "w", run_id=run_id)
    assert again.progress.version == crawl.progress.version and store.list_versions("ds") == [again.progress.version]
    # A fresh run redoes everything, fetching new commits into the cached mirrors.
    a.commit("Set x to the value from a new commit", a_DOT_py="x = 100\n")
    fresh, table = crawl_here([str(a.path), str(b.path)], store, tmp_path / "w", fresh=True)
    assert fresh.progress.repositories_resumed == 0 and fresh.progress.repositories_done == 2
    assert table.num_rows == 4 + 1 + 1
    assert len(store.list_versions("ds")) == 2


def test_a_cancel_seen_in_the_run_record_is_not_lost_when_the_marker_is_cleared(tmp_path: Path, store) -> None:
    from octopack.services.crawler.crawl import Crawl
    from octopack.services.crawler.runner import LocalRunner
    from octopack.services.crawler.task import CANCELLED, mark_cancelled

    a = Repo(tmp_path / "a")
    _history(a)
    request = CrawlRequest([str(a.path)], "ds", CrawlOptions()).validate()
    runner = LocalRunner(1, cache_dir=str(tmp_path / "cache"))
    # An earlier driver's marker, with no cancel on record: the marker is cleared and the crawl goes on.
    area = store.stage("ds", "resumed-run")
    mark_cancelled(area)
    done = Crawl(request, area, runner, stop_requested=lambda: False).run()
    assert done.repositories_done == 1 and store.list_versions("ds") == [done.version]
    # The service's cancel (its record, then the marker) came as this driver started: nothing is crawled,
    # and the marker is left again for the tasks.
    area = store.stage("ds", "cancelled-run")
    mark_cancelled(area)
    crawl = Crawl(request, area, runner, stop_requested=lambda: True)
    progress = crawl.run()
    assert crawl.cancel_event.is_set() and progress.repositories_done == 0 and not progress.version
    assert store.objects.exists(area.key(CANCELLED)) and store.list_versions("ds") == [done.version]


def test_forks_keep_a_sha_once_with_every_repository(tmp_path: Path, store) -> None:
    origin = Repo(tmp_path / "origin")
    shas = _history(origin)
    fork = tmp_path / "fork"
    # A plain clone is a fork: the same shas, then one more commit.
    subprocess.run(["git", "clone", "-q", str(origin.path), str(fork)], check=True)
    fork_repo = Repo.__new__(Repo)
    fork_repo.path, fork_repo._tick = fork, 50
    extra = fork_repo.commit("Set x to a fork-only value", a_DOT_py="x = 99\n")
    crawl, table = crawl_here([str(origin.path), str(fork)], store, tmp_path / "w")
    rows = {r["commit"]: r for r in table.to_pylist()}
    assert set(rows) == {*shas, extra}
    assert rows[shas[0]]["repos"] == [str(origin.path), str(fork)]
    assert rows[extra]["repos"] == [str(fork)]
    assert crawl.progress.skipped["duplicate_across_repos"] == len(shas)


def test_license_allow_list(tmp_path: Path, store) -> None:
    repo = Repo(tmp_path / "r")
    _history(repo, license_text="All rights reserved.\n")
    crawl, table = crawl_here([str(repo.path)], store, tmp_path / "w")
    assert crawl.progress.licenses[str(repo.path)] == "unknown"
    assert crawl.progress.skipped["license_not_allowed"] == 1
    assert table.num_rows == 0
    crawl, table = crawl_here([str(repo.path)], store, tmp_path / "w2", licenses=("mit", "unknown"))
    assert table.num_rows == 4
    assert set(table.column("license").to_pylist()) == {"unknown"}


def test_languages_dates_and_limits(tmp_path: Path, store) -> None:
    repo = Repo(tmp_path / "r")
    shas = _history(repo, n=4)  # hourly commits from 2023-11-14T23:13:20Z
    _, table = crawl_here([str(repo.path)], store, tmp_path / "w1", languages=("Go",))
    assert table.column("lang").to_pylist() == ["Go"]
    _, table = crawl_here([str(repo.path)], store, tmp_path / "w2", max_commits=2)
    assert sorted(table.column("commit").to_pylist()) == sorted(shas[-2:])
    _, table = crawl_here([str(repo.path)], store, tmp_path / "w3", until="2023-11-15T00:30:00+00:00")
    assert table.column("commit").to_pylist() == [shas[0]]


def test_forks_across_partitions_give_the_same_rows(tmp_path: Path, store) -> None:
    """Many partitions (tiny ones) de-duplicate exactly like one."""
    origin = Repo(tmp_path / "origin")
    _history(origin, n=12)
    fork = tmp_path / "fork"
    subprocess.run(["git", "clone", "-q", str(origin.path), str(fork)], check=True)
    sources = [str(fork), str(origin.path)]
    _, one = crawl_here(sources, store, tmp_path / "w", dataset="one")
    crawl, many = crawl_here(sources, store, tmp_path / "w", dataset="many", workers=1, partition_bytes=200)
    assert len(store.get_manifest("many", crawl.progress.version).shards) > 1
    assert sorted(many.to_pylist(), key=lambda r: r["commit"]) == sorted(one.to_pylist(), key=lambda r: r["commit"])
    assert {tuple(r["repos"]) for r in one.to_pylist()} == {(str(fork), str(origin.path))}


def test_invalid_requests() -> None:
    with pytest.raises(InvalidArgument, match="dataset"):
        CrawlRequest(["x"], "Bad Name!", CrawlOptions()).validate()
    with pytest.raises(InvalidArgument, match="repositories"):
        CrawlRequest([], "ok", CrawlOptions()).validate()
    with pytest.raises(InvalidArgument, match="only one of"):
        CrawlRequest(["x"], "ok", CrawlOptions(), repositories_file="list.txt").validate()
    with pytest.raises(InvalidArgument, match="languages"):
        CrawlRequest(["x"], "ok", CrawlOptions(languages=("Klingon",))).validate()
    with pytest.raises(ValueError, match="ISO 8601"):
        CrawlOptions(since="yesterday")
