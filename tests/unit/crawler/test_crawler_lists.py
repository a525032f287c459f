"""Repository lists (lines, S3 keys) and the per-partition de-duplication of forks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from octopack.common.errors import InvalidArgument
from octopack.services.crawler import dedupe
from octopack.services.crawler.samples import INTERMEDIATE_SCHEMA, ORDER, ROW
from octopack.services.crawler.sources import object_key, parse_line, read_lines


@pytest.mark.parametrize(
    ("line", "url"),
    [
        ("https://github.com/psf/requests\n", "https://github.com/psf/requests"),
        ("  /srv/repos/a.git  ", "/srv/repos/a.git"),
        ("# a comment", ""),
        ("   # an indented comment", ""),
        ("", ""),
        ("https://h/r.git  # mirror of r", "https://h/r.git"),
        ("https://h/r.git\t# tab before the comment", "https://h/r.git"),
        ("https://h/page#fragment", "https://h/page#fragment"),  # a '#' inside a URL is not a comment
    ],
)
def test_parse_line(line: str, url: str) -> None:
    assert parse_line(line) == url


def test_read_lines_keeps_the_order_and_drops_comments(tmp_path: Path) -> None:
    listed = tmp_path / "repos.txt"
    listed.write_text("# header\nb\n\na  # first after b\nc\n")
    assert read_lines(listed) == ["b", "a", "c"]
    with pytest.raises(InvalidArgument, match="cannot read"):
        read_lines(tmp_path / "missing.txt")


def test_object_key_stays_in_the_bucket() -> None:
    assert object_key("lists/r.txt", "octopack") == "lists/r.txt"
    assert object_key("s3://octopack/lists/r.txt", "octopack") == "lists/r.txt"
    for bad in ("s3://other/lists/r.txt", "/etc/passwd", "", "s3://octopack/"):
        with pytest.raises(InvalidArgument, match="repositories_file"):
            object_key(bad, "octopack")


def _rows(items: list[tuple[str, int, int, str]]) -> pa.Table:
    """(sha, repository order, row, repository) -> intermediate rows."""
    rows = [{"commit": sha, "old_file": "a.py", "new_file": "a.py", "old_contents": f"{repo} old",
             "new_contents": f"{repo} new", "subject": "Fix it", "message": "Fix it", "lang": "Python",
             "license": "mit", "repos": [repo], ORDER: order, ROW: row} for sha, order, row, repo in items]
    return pa.Table.from_pylist(rows, schema=INTERMEDIATE_SCHEMA)


def test_the_first_repository_of_the_list_keeps_a_shared_commit() -> None:
    # Arrival order does not matter: the fork (order 1) arrives before the origin (order 0).
    table = _rows([("b" * 40, 1, 0, "fork"), ("a" * 40, 1, 1, "fork"), ("a" * 40, 0, 0, "origin"),
                   ("c" * 40, 0, 1, "origin"), ("a" * 40, 2, 0, "fork2")])
    out, dropped = dedupe.dedupe(table)
    assert dropped == 2
    assert out.column("commit").to_pylist() == ["a" * 40, "c" * 40, "b" * 40]  # list order, then walk order
    rows = {r["commit"]: r for r in out.to_pylist()}
    assert rows["a" * 40]["repos"] == ["origin", "fork", "fork2"] and rows["a" * 40]["old_contents"] == "origin old"
    assert rows["b" * 40]["repos"] == ["fork"]
    assert out.schema.names == INTERMEDIATE_SCHEMA.names[:-2]  # the order columns are gone


def test_partitions_put_every_copy_of_a_commit_together() -> None:
    shas = [f"{i:08x}" + "0" * 32 for i in range(0, 2**32, 2**26)]
    table = _rows([(sha, i % 3, i, f"r{i % 3}") for i, sha in enumerate(shas)] + [(shas[5], 9, 0, "late")])
    parts = dedupe.partition_of(table, 7).to_pylist()
    by_sha: dict[str, set[int]] = {}
    for sha, part in zip(table.column("commit").to_pylist(), parts, strict=True):
        by_sha.setdefault(sha, set()).add(part)
    assert all(len(p) == 1 for p in by_sha.values()) and len(set(parts)) == 7
    assert dedupe.partitions_for(0, 64) == 1 and dedupe.partitions_for(129, 64) == 3
