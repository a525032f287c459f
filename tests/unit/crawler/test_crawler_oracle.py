"""The crawler yields exactly the single-file in-place modifications plain git shows, byte for byte."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

from tests.oracles.original import original_samples
from tests.unit.crawler.conftest import crawl_here
from tests.unit.crawler.gitrepo import Repo, oracle

ROOT = Path(__file__).resolve().parents[3]


def _crawl(source: Path, store, tmp_path: Path, profile: str = "improved") -> pa.Table:
    crawl, table = crawl_here([str(source)], store, tmp_path / "work", dataset="oracle", workers=1, licenses=(),
                              profile=profile)
    assert crawl.progress.errors == {}
    return table


def _assert_same(table: pa.Table, expected: dict[str, dict]) -> None:
    rows = {row["commit"]: row for row in table.to_pylist()}
    assert len(rows) == table.num_rows == len(expected)
    assert sorted(rows) == sorted(expected)
    for sha, want in expected.items():
        got = rows[sha]
        assert got["old_file"] == got["new_file"] == want["path"]
        assert got["old_contents"].encode() == want["old"]
        assert got["new_contents"].encode() == want["new"]
        assert got["message"] == want["message"]
        assert got["subject"] == want["message"].split("\n", 1)[0]


def _assert_original(table: pa.Table, source: Path, rev: str = "HEAD") -> None:
    """The paper profile's samples are the original's (``tests/oracles/original.py``), field for field."""
    expected, _ = original_samples(source, rev)
    rows = {row["commit"]: row for row in table.to_pylist()}
    assert sorted(rows) == sorted(row["commit"] for row in expected)
    for want in expected:
        got = rows[want["commit"]]
        assert {k: got[k] for k in want} == want


def test_project_history_matches_plain_git(store, tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("the project is not a Git checkout here")
    _assert_same(_crawl(ROOT, store, tmp_path), oracle(ROOT))
    _assert_original(_crawl(ROOT, store, tmp_path, "paper"), ROOT)


def _synthetic(path: Path, commits: int, files: int) -> Path:
    spec = importlib.util.spec_from_file_location("make_repo", ROOT / "benchmarks" / "make_repo.py")
    assert spec is not None and spec.loader is not None
    make_repo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_repo)
    return make_repo.generate(path, commits=commits, files=files, seed=3)


def test_synthetic_history_matches_plain_git(store, tmp_path: Path) -> None:
    path = _synthetic(tmp_path / "synthetic", commits=400, files=40)
    expected = oracle(path, "main")
    table = _crawl(path, store, tmp_path)
    assert table.num_rows > 100  # the history holds many samples: the comparison means something
    _assert_same(table, expected)
    _assert_original(_crawl(path, store, tmp_path, "paper"), path, "main")


@pytest.mark.full
def test_benchmark_sized_history_matches_plain_git(store, tmp_path: Path) -> None:
    """The benchmark's 5,000-commit repository (binary, oversized, non-UTF-8 files, merges): every sample."""
    path = _synthetic(tmp_path / "synthetic", commits=5000, files=400)
    expected = oracle(path, "main")
    table = _crawl(path, store, tmp_path)
    assert table.num_rows > 1500
    _assert_same(table, expected)


def test_edge_cases_match_plain_git(repo: Repo, store, tmp_path: Path) -> None:
    repo.commit("Initial commit", a_DOT_py="x = 1\n", b_DOT_py="y = 2\n", README_DOT_md="hi\n")
    keep = repo.commit("Fix the value of x", a_DOT_py="x = 2\n")
    repo.commit("Change two files at once", a_DOT_py="x = 3\n", b_DOT_py="y = 3\n")
    repo.git("mv", "b.py", "c.py")
    repo.commit("Rename b to c")
    repo.git("mv", "c.py", "d.py")
    repo.commit("Rename and edit", d_DOT_py="y = 4\nz = 5\n")
    repo.commit("Edit a module, add another", a_DOT_py="x = 2.5\n", f_DOT_py="f = 1\n")
    repo.commit("Add a new module", e_DOT_py="e = 1\n")
    repo.git("rm", "-q", "e.py")
    repo.commit("Delete the new module")
    repo.commit("Store binary data", a_DOT_py=b"x = 1\0\1\2\n")
    repo.commit("Back to text again", a_DOT_py="x = 'caf\u00e9'\n")
    repo.commit("Latin-1 text is skipped", a_DOT_py="x = 'caf\u00e9'\n".encode("latin-1"))
    repo.commit("Utf-8 again in the module", a_DOT_py="x = '\u00e9t\u00e9'\r\n")
    repo.commit("wip", a_DOT_py="x = 7\n")
    repo.commit("Update a.py", a_DOT_py="x = 8\n")
    repo.commit("Edit an unknown kind of file", notes_DOT_zzz="n\n")
    repo.commit("Another edit of unknown file", notes_DOT_zzz="m\n")
    repo.commit("Empty commit with a long message")
    (repo.path / "a.py").chmod(0o755)
    repo.commit("Make the module executable")
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("Edit the readme on a branch", README_DOT_md="hello\n")
    repo.git("checkout", "-q", "main")
    repo.commit("Edit the module on main", a_DOT_py="x = 9\n")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch side", "side")
    expected = oracle(repo.path)
    table = _crawl(repo.path, store, tmp_path)
    _assert_same(table, expected)
    paper = _crawl(repo.path, store, tmp_path, "paper")
    _assert_original(paper, repo.path)
    assert keep in set(table.column("commit").to_pylist())
    # Binary or Latin-1 on either side, renames, adds, deletes, multi-file, unknown language, boring
    # messages, empty commits and the merge are all left out.
    assert set(table.column("subject").to_pylist()) == {
        "Fix the value of x",
        "Make the module executable",
        "Edit the readme on a branch",
        "Edit the module on main",
    }
    # The original keeps binary and Latin-1 files (decoded, invalid bytes dropped), the one in-place edit of a
    # commit that also adds a file, and "Update a.py\n": only the web editor's "Update a.py" (no newline) is dropped.
    assert set(paper.column("subject").to_pylist()) == {
        "Fix the value of x", "Edit a module, add another", "Store binary data", "Back to text again",
        "Latin-1 text is skipped", "Utf-8 again in the module", "Make the module executable",
        "Edit the readme on a branch", "Edit the module on main", "Update a.py",
    }


def test_oracle_agrees_with_git_count(repo: Repo) -> None:
    """The oracle itself: it sees the one modification of this repository."""
    repo.commit("Initial commit", a_DOT_py="x = 1\n")
    sha = repo.commit("Fix the value of x", a_DOT_py="x = 2\n")
    assert list(oracle(repo.path)) == [sha]
    count = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=repo.path, capture_output=True, text=True)
    assert count.stdout.strip() == "2"
