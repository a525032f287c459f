"""Every CommitPackFT rule, one by one, with rows it keeps and rows it drops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from octopack.services.filter.config import FilterConfig
from octopack.services.filter.pipeline import filter_table, normalise
from octopack.services.filter.rules import build_rules
from tests.unit.filter.conftest import EOS, NEW, OLD, sample


def _rule(name: str, tokenizer: str = "", **config: Any):
    cfg = FilterConfig.model_validate(config)
    rules = [r for r in build_rules(cfg, tokenizer) if r.name == name]
    assert len(rules) == 1
    return rules[0]


def _kept(name: str, rows: list[dict], tokenizer: str = "", **config: Any) -> list[dict]:
    table, _ = filter_table(normalise(pa.Table.from_pylist(rows)), [_rule(name, tokenizer, **config)])
    return table.to_pylist()


def _keeps(name: str, tokenizer: str = "", profile: str = "paper", **row: Any) -> bool:
    return len(_kept(name, [sample(**row)], tokenizer, profile=profile)) == 1


def test_the_sample_passes_every_rule(tokenizer_path: str) -> None:
    rules = build_rules(FilterConfig(), tokenizer_path)
    assert [r.number for r in rules] == list(range(1, 17))
    table, drops = filter_table(normalise(pa.Table.from_pylist([sample()])), rules)
    assert table.num_rows == 1 and all(len(langs) == 0 for _, _, langs in drops)


def test_rule01_contents() -> None:
    assert _keeps("contents")
    assert not _keeps("contents", old_contents="x" * 50_000)
    assert _keeps("contents", old_contents="x" * 49_999)
    assert not _keeps("contents", new_contents="")
    assert not _keeps("contents", new_contents=OLD)


def test_rule02_no_hash_in_subject() -> None:
    assert _keeps("no_hash_in_subject")
    assert not _keeps("no_hash_in_subject", subject="Fix crash reported in #123 today")


@pytest.mark.parametrize(
    ("path", "lang", "paper", "improved"),
    [
        ("src/a.py", "Python", True, True),
        ("src/a.pyw", "Python", False, False),  # Python, but not its canonical extension
        ("src/a.PY", "Python", False, False),
        ("lib.rs", "Rust", True, True),
        ("gen.rs.in", "Rust", False, False),
        ("a.cpp", "C++", True, True),
        ("a.hpp", "C++", False, True),  # the original's C++ list is .cpp alone
        ("a.h", "C", True, True),
        ("main.go", "Go", True, True),
        ("run.sh", "Shell", True, True),  # the original's Shell list is written without dots
        ("run.bats", "Shell", False, True),
        ("page.htm", "HTML", False, True),
        ("notes.md", "Markdown", True, True),  # no list: any extension will do
        ("Makefile", "Makefile", False, False),  # no extension at all
        ("sub/.bashrc", "Shell", False, False),
        ("dir.d/file", "Text", True, False),  # the original splits the whole path at dots
    ],
)
def test_rule03_extension(path: str, lang: str, paper: bool, improved: bool) -> None:
    assert _keeps("extension", new_file=path, lang=lang) is paper
    assert _keeps("extension", new_file=path, lang=lang, profile="improved") is improved


def test_rule04_file_name_in_subject() -> None:
    assert _keeps("file_name_in_subject")
    assert not _keeps("file_name_in_subject", subject="Add a comment to arith helpers now")
    assert _keeps("file_name_in_subject", subject="Add a comment to Arith helpers now")  # case-sensitive
    rows = [sample(subject="Add a comment to Arith helpers now")]
    assert _kept("file_name_in_subject", rows, file_name_in_subject={"case_sensitive": False}) == []
    # The original looks for the piece before the last dot: "" for ".py", which every subject holds.
    assert not _keeps("file_name_in_subject", new_file=".py")
    assert _keeps("file_name_in_subject", new_file=".py", profile="improved")  # an empty stem never matches
    assert not _keeps("file_name_in_subject", new_file="lib/the.helper.py", subject="Add the helper for x y")
    assert _keeps("file_name_in_subject", new_file="lib/the.helper.py", subject="Add the helper for x y",
                  profile="improved")


@pytest.mark.parametrize(
    ("subject", "kept"),
    [
        ("Add a comment to the helper", True),
        ("Fix a b c", False),  # 9 characters
        ("Fix the parser now", False),  # 4 words
        ("Fix  the   parser  right now", True),
        ("Fix " + "x" * 995 + " a b c", False),  # 1000+ characters
    ],
)
def test_rule05_subject_length(subject: str, kept: bool) -> None:
    assert _keeps("subject_length", subject=subject) is kept


@pytest.mark.parametrize(
    ("subject", "cleaned"),
    [
        ("[core] Add a check for null values", "Add a check for null values"),
        ("parser: Add a check for null values", "Add a check for null values"),
        ("src/a.py: Add a check for null values [wip]", "Add a check for null values"),
        ("Add a check for null values [skip ci]", "Add a check for null values"),
        ("Add a check for [skip CI] null values", "Add a check for [skip CI] null values"),  # case-sensitive
        ("Add a check for[skip ci]null values", "Add a check fornull values"),
        ("[core] parser: Add a check for null values", "Add a check for null values"),  # tag, then scope
        ("Add a check: for null values", "Add a check: for null values"),  # only the first token counts
        ("[core] Add a [check] for null", "Add a [check] for null"),
        ("[core] Fix the null check", None),  # 4 words left: rule 5 again drops it
        ("fix: short one", None),
    ],
)
def test_rule06_clean_subject(subject: str, cleaned: str | None) -> None:
    kept = _kept("clean_subject", [sample(subject=subject)])
    assert [r["subject"] for r in kept] == ([cleaned] if cleaned else [])


def test_rule06_skip_ci_in_any_case_is_a_correction() -> None:
    kept = _kept("clean_subject", [sample(subject="Add a check for [skip CI] null values")], profile="improved")
    assert [r["subject"] for r in kept] == ["Add a check for null values"]


def test_rule07_uppercase_start() -> None:
    assert _keeps("uppercase_start")
    assert _keeps("uppercase_start", subject="\u00c9dit the accents in the names")
    assert not _keeps("uppercase_start", subject="add a comment to the helper")
    assert not _keeps("uppercase_start", subject="1st attempt at the helper code")


def test_rule08_token_length(tokenizer_path: str) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    n = len(tok.encode(OLD + EOS + NEW, add_special_tokens=False).ids)
    assert 50 <= n <= 768
    assert _keeps("token_length", tokenizer_path)
    assert not _keeps("token_length", tokenizer_path, old_contents="a = 1\n", new_contents="a = 2\n")
    assert not _keeps("token_length", tokenizer_path, old_contents=OLD * 40, new_contents=NEW * 40)
    rows = [sample()]
    assert _kept("token_length", rows, tokenizer_path, token_length={"max_tokens": n}) == rows
    assert _kept("token_length", rows, tokenizer_path, token_length={"max_tokens": n - 1}) == []
    assert _kept("token_length", rows, tokenizer_path, token_length={"min_tokens": n + 1}) == []


@pytest.mark.parametrize(
    ("subject", "kept"),
    [
        ("Add a comment to the helper", True),
        ("Speed up the parser a lot", True),  # a two-word entry
        ("Added a comment to the helper", False),
        ("Addition of a comment to helper", False),
        ("Add", False),  # a verb must be followed by a space
    ],
)
def test_rule09_imperative_verb(subject: str, kept: bool) -> None:
    assert _keeps("imperative_verb", subject=subject) is kept


def test_rule10_boring_subject() -> None:
    assert _keeps("boring_subject")
    assert not _keeps("boring_subject", subject="Update README.md")
    assert not _keeps("boring_subject", subject="Updated readme")
    assert _keeps("boring_subject", subject="Update README.md with the new flags")


@pytest.mark.parametrize("phrase", ["Auto commit", "update CONTRIBUTING", "<?xml", "Merge branch", "merge pull request",
                                    "Signed-off-by"])
def test_rule11_banned_phrases(phrase: str) -> None:
    assert _keeps("banned_phrases")
    assert not _keeps("banned_phrases", subject=f"Add things after {phrase} here")


def test_rule11_can_look_in_the_message() -> None:
    row = sample(message="Add a comment\n\nSigned-off-by: Dev <dev@example.com>")
    assert _kept("banned_phrases", [row]) == [row]
    assert _kept("banned_phrases", [row], banned_phrases={"field": "message"}) == []


@pytest.mark.parametrize(
    ("subject", "kept"),
    [
        # The original's version pattern ends in (?=$|\S): a space right after the last number escapes it.
        ("v1.2.3 release of the helper", True),
        ("v1.2.34 release of the helper", False),
        ("1.2.3", False),
        ("dead-beef-0042", False),
        ("deadbeef", False),
        ("0123456789abcdef0123456789abcdef01234567", False),
        ("Release v1.2.3 of the helper", True),
        ("Add 1.2 support to the helper", True),
    ],
)
def test_rule12_version_or_hash(subject: str, kept: bool) -> None:
    assert _keeps("version_or_hash", subject=subject) is kept


def test_rule13_cherry_pick() -> None:
    assert _keeps("cherry_pick")
    assert not _keeps("cherry_pick", subject="Add fix (cherry picked from commit abc)")
    assert not _keeps("cherry_pick", subject="Revert 0123456789abcdef0123456789abcdef01234567 now")
    assert _keeps("cherry_pick", subject="Revert 0123456789abcdef0123456789abcdef0123456 now")  # 39 hex
    assert not _keeps("cherry_pick", subject="Revert 0123456789abcdef0123456789abcdef012345678 now")  # 41 hex
    assert _keeps("cherry_pick", subject="Revert 0123456789ABCDEF0123456789ABCDEF01234567 now")  # case-sensitive
    kept = _kept("cherry_pick", [sample(subject="Add a comment [ci skip] to the helper")])
    assert kept[0]["subject"] == "Add a comment  to the helper"  # as the original: the spaces stay
    kept = _kept("cherry_pick", [sample(subject="Add a comment [CI skip] to the helper")], profile="improved")
    assert kept[0]["subject"] == "Add a comment to the helper"
    assert not _keeps("cherry_pick", subject="Revert 0123456789ABCDEF0123456789ABCDEF01234567 now",
                      profile="improved")


def test_rule14_bump_sampling_is_deterministic() -> None:
    rows = [sample(commit=f"{i:040x}", subject=s) for i in range(2000)
            for s in ("Bump lodash from 1.0 to 2.0", "Set version to two")]
    first = _kept("bump_sampling", rows)
    again = _kept("bump_sampling", list(reversed(rows)))
    assert sorted(r["commit"] + r["subject"] for r in first) == sorted(r["commit"] + r["subject"] for r in again)
    assert 300 < len(first) < 500  # about 10% of 4000
    assert _keeps("bump_sampling")  # other subjects are all kept
    other_seed = _kept("bump_sampling", rows, bump_sampling={"seed": "x"})
    assert {r["commit"] for r in other_seed} != {r["commit"] for r in first}
    assert _kept("bump_sampling", rows, bump_sampling={"keep_fraction": 1.0}) == rows


@pytest.mark.parametrize(
    ("subject", "kept"),
    [
        ("Add a check I forgot earlier", False),
        ("I've added a comment here", False),
        ("Add what I'm told to add", False),
        ("Add the fix, thanks to Bob for it", False),
        ("Address code review comments now", False),
        ("Fix issue 42 in the helper", False),
        ("Fix bug42 in the helper", False),
        ("Add feature 7 to the helper", False),
        ("Apply cdpcp patch to the helper", False),
        ("Add //codereview link to helper", False),
        ("Add work in progress helper code", False),
        ("Add WIP helper code for parsing", False),
        ("Add docs at https://example.com now", False),
        ("Solve two sum | LeetCode daily", False),
        ("Fix i.e. the helper comments", True),
        ("Add a comment to the helper", True),
        ("Put the thingie in the thingie", False),  # one of the original's three specific subjects
    ],
)
def test_rule15_personal(subject: str, kept: bool) -> None:
    assert _keeps("personal", subject=subject) is kept
    assert _keeps("personal", subject=subject, profile="improved") is kept


@pytest.mark.parametrize(
    ("subject", "paper", "improved"),
    [
        ("Add docs at www.example.com now", True, False),
        ("Fix the wipe of the cache before each run", False, True),  # the original matched "wip" in "wipe"
        ("Add the fix, thanks to Bob FOR it", True, False),
        ("Add the fix for it, thanks to Bob", False, True),
        ("Fix the helper written by i", True, False),
    ],
)
def test_rule15_corrections(subject: str, paper: bool, improved: bool) -> None:
    assert _keeps("personal", subject=subject) is paper
    assert _keeps("personal", subject=subject, profile="improved") is improved


def test_rule16_min_words() -> None:
    assert _keeps("min_words")
    assert _keeps("min_words", subject="Add a small comment")
    assert not _keeps("min_words", subject="Add a comment")


def test_rule08_shortcuts_give_the_exact_verdict(tokenizer_path: str, tmp_path) -> None:
    """``within`` (bounds, old first) agrees with the plain count on texts around the thresholds."""
    import json
    import random

    from octopack.services.filter.tokens import TokenCounter

    rng = random.Random(1)
    words = ["def", "add", "return", "x", "  ", "\n", "(", ")", ":", "\u00e9t\u00e9", "1234", EOS]
    old = ["".join(rng.choice(words) + " " for _ in range(rng.randint(0, 900))) for _ in range(300)]
    new = [o[: rng.randint(0, len(o))] + "y" for o in old]
    size = [len(o.encode()) + len(n.encode()) for o, n in zip(old, new, strict=True)]
    fast = TokenCounter(tokenizer_path)
    assert fast.eos_splits and fast.max_token_bytes > 0
    doc = json.loads(Path(tokenizer_path).read_text())
    doc["added_tokens"][0]["lstrip"] = True  # the end-of-text token now eats white space: no split shortcut
    (tmp_path / "tokenizer.json").write_text(json.dumps(doc))
    plain = TokenCounter(str(tmp_path / "tokenizer.json"))
    assert not plain.eos_splits
    for counter in (fast, plain):
        counts = counter.count(old, new)
        for low, high in ((50, 768), (1, 200), (300, 2000)):
            want = [low <= c <= high for c in counts]
            assert counter.within(old, new, size, low, high, batch_size=7) == want
            assert 0 < sum(want) < len(want)
