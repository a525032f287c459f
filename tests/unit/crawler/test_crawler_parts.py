"""Language table, license fingerprints, message pre-filters and the log parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from octopack.services.crawler import gitio
from octopack.services.crawler.language import language_by_suffix, language_of, language_table
from octopack.services.crawler.licenses import detect_repository, detect_text
from octopack.services.crawler.prefilter import (
    BORING_MESSAGES,
    MessageChecks,
    message_reason,
    repository_language_ok,
    sample_change,
)
from tests.unit.crawler.gitrepo import IMPROVED_CHECKS, Repo


def test_language_table_is_complete() -> None:
    table = language_table()
    assert len(table) == 358 and sum(len(v) for v in table.values()) == 853


@pytest.mark.parametrize(
    ("path", "lang"),
    [
        ("src/a.py", "Python"), ("x/y/Main.java", "Java"), ("lib.rs", "Rust"), ("gen.rs.in", "Rust"),
        ("a.c", "C"), ("a.C", "C++"), ("a.PY", "Python"), ("Makefile", "Makefile"), ("sub/Dockerfile", "Dockerfile"),
        ("a.unknownext", None), ("README", None), (".bashrc", None), ("dir.py/file", None),
    ],
)
def test_language_of(path: str, lang: str | None) -> None:
    assert language_of(path) == lang


@pytest.mark.parametrize(
    ("path", "lang"),
    [
        ("src/a.py", "Python"), ("lib.rs", "Rust"), ("gen.rs.in", "Rust"), ("a.c", "C"), ("a.C", "C++"),
        ("a.PY", None),  # the original's str.endswith is case-sensitive
        ("Makefile", "Makefile"), ("sub/Dockerfile", "Dockerfile"),
        ("myMakefile", "Makefile"),  # ends with a table entry
        ("README", None), ("dir.py/file", None), ("notes.rst.txt", "reStructuredText"),  # the longest entry
    ],
)
def test_language_by_suffix(path: str, lang: str | None) -> None:
    assert language_by_suffix(path) == lang


APACHE = "                                 Apache License\n                           Version 2.0, January 2004\n"
GPL2 = ("GNU GENERAL PUBLIC LICENSE\nVersion 2, June 1991\n... (Some other Free Software Foundation software is "
        "covered by the GNU Lesser General Public License instead.) Version 2.1 ...")
LGPL21 = "GNU LESSER GENERAL PUBLIC LICENSE\n  Version 2.1, February 1999\n ... GNU General Public License ..."
BSD3 = ("Redistribution and use in source and binary forms, with or without\nmodification, are permitted ...\n"
        "* Redistributions in binary form must reproduce the above ...\n* Neither the name of the copyright "
        "holder nor the names of its contributors may be used to endorse or promote products derived from")
BSD2 = ("Redistribution and use in source and binary forms, with or without modification, are permitted ... "
        "2. Redistributions in binary form must reproduce the above copyright notice")


@pytest.mark.parametrize(
    ("text", "spdx"),
    [
        (APACHE, "apache-2.0"), (GPL2, "gpl-2.0"), (LGPL21, "lgpl-2.1"), (BSD3, "bsd-3-clause"), (BSD2, "bsd-2-clause"),
        ("# The MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy of "
         "this software...\n\nThe above copyright notice and this permission notice shall be included in all "
         "copies", "mit"),
        ("ISC License\n\nPermission to use, copy, modify, and/or distribute this software for any\npurpose "
         "with or without fee is hereby granted", "isc"),
        ("This is free and unencumbered software released into the public domain.", "unlicense"),
        ("Mozilla Public License Version 2.0\n==================================", "mpl-2.0"),
        ("Eclipse Public License - v 1.0\n\nTHE ACCOMPANYING PROGRAM", "epl-1.0"),
        ("Creative Commons Legal Code\n\nCC0 1.0 Universal", "cc0-1.0"),
        ("The Artistic License 2.0\n\nCopyright (c) 2000-2006", "artistic-2.0"),
        ("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007", "agpl-3.0"),
        ("All rights reserved.", "unknown"),
        ("", "unknown"),
    ],
)
def test_detect_text(text: str, spdx: str) -> None:
    assert detect_text(text) == spdx


def test_detect_repository_prefers_an_allowed_license(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Initial commit", LICENSE_MINUS_APACHE=APACHE, COPYING=GPL2)
    repo.git("mv", "LICENSE_MINUS_APACHE", "LICENSE-APACHE")
    head = repo.commit("Name the license file")
    assert detect_repository(repo.path, head, ("apache-2.0",)) == "apache-2.0"
    assert detect_repository(repo.path, head, ()) == "gpl-2.0"  # COPYING sorts first


@pytest.mark.parametrize(
    ("message", "path", "paper", "improved"),
    [
        ("Fix the parser\n", "a.py", None, None),
        ("tiny", "a.py", "message_length", "message_length"),
        ("short\n", "a.py", None, "message_length"),  # 6 characters as stored, 5 once trimmed
        ("x" * 10000, "a.py", "message_length", "message_length"),
        ("Merge pull request #1 from x/y\n", "a.py", "message_merge", "message_merge"),
        ("merged the branch", "a.py", "message_merge", "message_merge"),
        ("Update README.md", "README.md", "message_boring", "message_boring"),
        ("Can't you see I'm updating the time?", "a.py", "message_boring", "message_boring"),
        ("Initial commit", "a.py", "message_boring", "message_boring"),
        ("Initial commit\n", "a.py", None, "message_boring"),  # the SQL compares the message as stored
        ("please\n", "a.py", "message_boring", "message_boring"),  # the scrape's own list has "please\n"
        ("Please", "a.py", None, "message_boring"),  # ... and is case-sensitive
        ("Update xconfig.yaml", "a.py", "message_boring", None),  # LIKE 'update _config.yaml': _ is any character
        # The scrape drops "Update " + old_file exactly: the full path, case-sensitive, as stored.
        ("Update src/a.py", "src/a.py", "message_update_file", "message_update_file"),
        ("Update a.py", "src/a.py", None, "message_update_file"),
        ("update src/a.py", "src/a.py", None, "message_update_file"),
        ("Update src/a.py\n", "src/a.py", None, "message_update_file"),
        ("Update index.rst", "docs/index.rst", None, "message_update_file"),
        ("Update a.py to handle None", "src/a.py", None, None),
    ],
)
def test_message_reason(message: str, path: str, paper: str | None, improved: str | None) -> None:
    assert message_reason(message, path) == paper
    assert message_reason(message, path, IMPROVED_CHECKS) == improved


def test_each_message_correction_alone() -> None:
    assert message_reason("Initial commit\n", "a.py", MessageChecks(trimmed_message=True)) == "message_boring"
    assert message_reason("Update a.py", "src/a.py", MessageChecks(update_message_any_case=True)) is not None
    assert message_reason("Update xconfig.yaml", "a.py", MessageChecks(literal_message_list=True)) is None


def test_every_boring_message_is_dropped() -> None:
    assert len(BORING_MESSAGES) == 26
    for message in BORING_MESSAGES:
        if len(message) > 5:
            assert message_reason(message.capitalize(), "x.py", IMPROVED_CHECKS) == "message_boring"
            assert message_reason(message, "x.py") == "message_boring"


def test_repository_languages_of_the_original_query() -> None:
    assert repository_language_ok({"Markdown", "Python"})
    assert repository_language_ok({"Perl6"})  # LIKE 'Perl%'
    assert not repository_language_ok({"Markdown", "YAML", "Haskell"})


def _change(status: str, path: str = "a.py") -> gitio.Change:
    return gitio.Change("100644", "100644", "1" * 40, "2" * 40, status, path.encode())


def test_the_sample_change_of_a_commit() -> None:
    edit, added = _change("M"), _change("A", "b.py")
    # The original: exactly one file modified in place, whatever else the commit adds or deletes.
    assert sample_change([edit, added], one_changed_file=False) is edit
    assert sample_change([edit, added], one_changed_file=True) == "multi_file"
    assert sample_change([edit, _change("M", "b.py")], one_changed_file=False) == "multi_file"
    assert sample_change([added], one_changed_file=False) == "not_modification"
    assert sample_change([], one_changed_file=False) == "no_change"
    assert sample_change([edit], one_changed_file=True) is edit


def test_parse_log_handles_commits_without_changes() -> None:
    mark = gitio.COMMIT_MARK
    tokens = [
        mark + b"a" * 40 + b" " + b"b" * 40, b"Fix it\n", b"\n:100644 100644 " + b"1" * 40 + b" " + b"2" * 40 + b" M",
        b"dir/x.py", mark + b"c" * 40 + b" " + b"d" * 40 + b" " + b"e" * 40, b"Merge\n",
        mark + b"f" * 40, b":starts with a colon\n",
    ]
    commits = list(gitio.parse_log(iter(tokens)))
    assert [c.sha[0] for c in commits] == ["a", "c", "f"]
    assert commits[0].changes[0].path == b"dir/x.py" and commits[0].changes[0].status == "M"
    assert commits[1].parents == ["d" * 40, "e" * 40] and commits[1].changes == []
    assert commits[2].message == ":starts with a colon\n" and commits[2].parents == []


def test_blob_reader_reports_missing_objects(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Initial commit", a_DOT_py="x = 1\n")
    blob = repo.git("rev-parse", "HEAD:a.py").strip()
    with gitio.BlobReader(repo.path) as reader:
        assert reader.size(blob) == 6 and reader.read(blob) == b"x = 1\n"
        assert reader.size("0" * 40) is None and reader.read("0" * 40) is None
        assert reader.read(blob) == b"x = 1\n"


def test_sample_writer_flushes_bounded_row_groups(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from octopack.services.crawler.samples import SampleWriter

    writer = SampleWriter(tmp_path / "s.parquet", flush_bytes=1000)
    row = {"commit": "a" * 40, "old_file": "a.py", "new_file": "a.py", "old_contents": "x" * 300,
           "new_contents": "y" * 300, "subject": "s", "message": "s", "lang": "Python", "license": "mit",
           "repos": ["r"]}
    for _ in range(10):
        writer.add(row)
        assert writer._bytes < 1000  # never more than one flush worth of samples held in memory
    writer.close()
    meta = pq.ParquetFile(tmp_path / "s.parquet").metadata
    assert meta.num_rows == 10 and meta.num_row_groups == 5


def test_walk_streams_the_history(tmp_path: Path) -> None:
    """The walk is lazy: taking the first commit does not read the rest (and stops git cleanly)."""
    repo = Repo(tmp_path / "r")
    for i in range(30):
        repo.commit(f"Set the value to {i}", a_DOT_py=f"x = {i}\n")
    walk = gitio.walk(repo.path, "HEAD")
    first = next(walk)
    assert first.message == "Set the value to 29\n" and first.changes[0].path == b"a.py"
    walk.close()
    assert len(list(gitio.walk(repo.path, "HEAD", max_commits=5))) == 5


def test_failures_are_counted_by_code_past_the_kept_errors() -> None:
    """Only the first ERRORS_KEPT messages are kept, but every failure's code is counted: a crawl whose later
    failures are transient is not taken for a permanent one."""
    from octopack.common.errors import combined
    from octopack.services.crawler.crawl import ERRORS_KEPT, CrawlProgress
    from octopack.services.crawler.repository import RepoResult

    progress = CrawlProgress()
    for i in range(ERRORS_KEPT + 5):
        code = "NOT_FOUND" if i < ERRORS_KEPT else "UNAVAILABLE"
        progress.add(RepoResult(f"repo-{i}", error="gone", error_code=code).to_dict())
    assert progress.repositories_failed == ERRORS_KEPT + 5
    assert len(progress.errors) == ERRORS_KEPT and progress.errors_dropped == 5
    assert progress.failures_by_code == {"NOT_FOUND": ERRORS_KEPT, "UNAVAILABLE": 5}
    assert set(progress.error_codes.values()) == {"NOT_FOUND"}  # what the kept errors alone would say
    again = CrawlProgress.from_doc(progress.to_doc())
    assert again.failures_by_code == progress.failures_by_code
    assert combined("x", list(again.failures_by_code)).code == "UNAVAILABLE"  # retried, not failed for good
    assert combined("x", ["NOT_FOUND"]).code == "NOT_FOUND"
