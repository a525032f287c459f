"""The whole filter: order, statistics, batch independence, statistics merged across shards, configuration."""

from __future__ import annotations

import pyarrow as pa
import pytest

from octopack.common.errors import InvalidArgument
from octopack.services.filter.config import FilterConfig, parse_config
from octopack.services.filter.pipeline import merge_stats, run_local
from octopack.services.filter.rules import build_rules
from octopack.services.filter.stats import FilterStats
from tests.unit.filter.conftest import sample


def _rows() -> list[dict]:
    return [
        sample(commit=f"{1:040x}"),
        sample(commit=f"{2:040x}", subject="Fix #12 in the subtraction helper", lang="Go", new_file="a.go"),
        sample(commit=f"{3:040x}", subject="[core] Add a comment to the subtraction helper"),
        sample(commit=f"{4:040x}", subject="added a comment to the subtraction helper"),
        sample(commit=f"{5:040x}", new_contents=""),
        sample(commit=f"{6:040x}", subject="Add a comment I forgot to the helper", lang="Rust", new_file="x.rs"),
    ]


def _run(rows: list[dict], tokenizer: str, batch: int) -> tuple[list[dict], FilterStats]:
    rules = build_rules(FilterConfig(), tokenizer)
    stats = FilterStats.for_rules(rules)
    table = pa.Table.from_pylist(rows)
    batches = [table.slice(i, batch) for i in range(0, table.num_rows, batch)]
    out = [r for t in run_local(batches, rules, stats) for r in t.to_pylist()]
    return out, stats


def test_statistics_per_rule_and_language(tokenizer_path: str) -> None:
    out, stats = _run(_rows(), tokenizer_path, batch=100)
    assert [r["commit"][-1] for r in out] == ["1", "3"]
    assert out[1]["subject"] == "Add a comment to the subtraction helper"
    by_name = {r.name: r for r in stats.rules}
    assert by_name["contents"].dropped == 1 and by_name["contents"].rows_in == 6
    assert by_name["no_hash_in_subject"].dropped_by_lang == {"Go": 1}
    assert by_name["uppercase_start"].dropped == 1
    assert by_name["personal"].dropped_by_lang == {"Rust": 1}
    assert stats.rows_in == 6 and stats.rows_out == 2 and stats.out_by_lang == {"Python": 2}
    assert sum(r.dropped for r in stats.rules) == 4
    doc = stats.to_dict()
    assert FilterStats.from_dict(doc).to_dict() == doc


def test_batches_do_not_change_the_result(tokenizer_path: str) -> None:
    rows = _rows() * 5
    whole, s1 = _run(rows, tokenizer_path, batch=1000)
    pieces, s2 = _run(rows, tokenizer_path, batch=4)
    assert whole == pieces and s1.to_dict() == s2.to_dict()


def test_statistics_of_pieces_merge_into_those_of_the_whole(tokenizer_path: str) -> None:
    """What the driver does with the workers' per-shard statistics."""
    rows = _rows() * 3
    _, whole = _run(rows, tokenizer_path, batch=1000)
    rules = build_rules(FilterConfig(), tokenizer_path)
    merged = FilterStats.for_rules(rules)
    for start in range(0, len(rows), 5):
        _, part = _run(rows[start : start + 5], tokenizer_path, batch=1000)
        merge_stats(merged, FilterStats.from_dict(part.to_dict()))
    assert merged.to_dict() == whole.to_dict()


def test_disabled_rules_do_not_run() -> None:
    config = parse_config("token_length: {enabled: false}\npersonal: {enabled: false}\n")
    names = [r.name for r in build_rules(config, "")]
    assert "token_length" not in names and "personal" not in names and len(names) == 14


def test_bad_configuration_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="personl"):
        parse_config("personl: {enabled: false}")
    with pytest.raises(InvalidArgument, match="keep_fraction"):
        parse_config("bump_sampling: {keep_fraction: 2}")
    with pytest.raises(InvalidArgument):
        parse_config("[unclosed")


def test_missing_columns_are_reported() -> None:
    rules = build_rules(parse_config("token_length: {enabled: false}"), "")
    with pytest.raises(InvalidArgument, match="subject"):
        list(run_local([pa.table({"commit": ["a"]})], rules, FilterStats.for_rules(rules)))


def test_unknown_tokenizer_path(tmp_path) -> None:
    from octopack.services.filter.tokens import TokenCounter

    with pytest.raises(InvalidArgument, match="tokenizer"):
        TokenCounter(str(tmp_path / "nope"))
