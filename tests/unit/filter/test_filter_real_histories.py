"""The paper profile on the two shared real histories: the same rows as the original scripts, rule for rule.

The expected rows and per-rule counts come from ``tests/oracles/original.py``, a plain
transcription of the original BigQuery selection, ``scrape_github.py`` and both CommitPackFT
scripts over ``git log`` and ``git cat-file`` output; it shares no code with the crawler
or the filter.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from octopack.common.objectstore import ObjectStore
from octopack.datasets.store import DatasetStore
from octopack.services.filter.config import FilterConfig
from octopack.services.filter.pipeline import run_local
from octopack.services.filter.rules import build_rules
from octopack.services.filter.stats import FilterStats
from tests.oracles.original import original_filter, original_samples
from tests.unit.crawler.conftest import crawl_here
from tests.unit.filter.conftest import EOS

COMPARED = ("commit", "old_file", "new_file", "old_contents", "new_contents", "message", "subject", "lang")


@pytest.fixture(scope="module")
def paper_crawls(
    real_histories: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, s3  # type: ignore[no-untyped-def]
) -> dict[str, pa.Table]:
    """Each history crawled under the paper profile (every license allowed: requests is Apache-2.0, click BSD)."""
    settings = s3.settings(bucket="t-filter-real-histories")
    ObjectStore(settings).ensure_bucket()
    store = DatasetStore.from_settings(settings)
    tables = {}
    for name, repo in real_histories.items():
        _, tables[name] = crawl_here([str(repo)], store, tmp_path_factory.mktemp(f"crawl-{name}"), dataset=name,
                                     workers=1, licenses=())
    return tables


@pytest.mark.parametrize("name", ["requests", "click"])
def test_paper_crawl_keeps_the_original_commits(name: str, paper_crawls: dict[str, pa.Table],
                                                real_histories: dict[str, Path]) -> None:
    expected, why = original_samples(real_histories[name])
    got = {row["commit"]: row for row in paper_crawls[name].to_pylist()}
    assert len(expected) > 900 and why["scrape_message"] > 0  # the history exercises the pre-filters
    assert sorted(got) == sorted(row["commit"] for row in expected)
    for want in expected:
        assert {k: got[want["commit"]][k] for k in COMPARED} == {k: want[k] for k in COMPARED}


def test_update_messages_are_dropped_only_when_exact(paper_crawls: dict[str, pa.Table],
                                                     real_histories: dict[str, Path]) -> None:
    """requests has many web-editor "Update index.rst" commits on docs/index.rst: the original keeps them."""
    kept = paper_crawls["requests"].to_pylist()
    index_rst = [r for r in kept if r["new_file"] == "docs/index.rst" and r["message"].startswith("Update index.rst")]
    assert len(index_rst) >= 30
    assert not [r for r in kept if r["message"] == "Update " + r["old_file"]]


@pytest.mark.parametrize("with_tokens", [True, False], ids=["all-rules", "without-rule-8"])
def test_paper_filter_drops_what_the_original_drops(with_tokens: bool, paper_crawls: dict[str, pa.Table],
                                                    tokenizer_path: str) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    rows = [row for table in paper_crawls.values() for row in table.to_pylist()]
    # No token of this byte-level vocabulary spans more than ``longest`` bytes: a longer text has too many.
    longest = max(len(token) for token in tok.get_vocab(with_added_tokens=False)) + len(EOS)

    def count(old: str, new: str) -> int:
        text = old + EOS + new
        if len(text.encode()) > 769 * longest:
            return 769
        return len(tok.encode(text, add_special_tokens=False).ids)

    want_rows, want_dropped = original_filter(rows, count if with_tokens else None)
    config = FilterConfig.model_validate({"token_length": {"enabled": with_tokens}})
    rules = build_rules(config, tokenizer_path)
    stats = FilterStats.for_rules(rules)
    batches = [pa.Table.from_pylist(rows[i : i + 1000]) for i in range(0, len(rows), 1000)]
    kept = [r for t in run_local(batches, rules, stats) for r in t.to_pylist()]
    got_dropped = {r.number: r.dropped for r in stats.rules}
    if not with_tokens:
        assert want_dropped.pop(8) == 0
    assert got_dropped == want_dropped
    assert [(r["commit"], r["subject"]) for r in kept] == [(r["commit"], r["subject"]) for r in want_rows]
    # The comparison means something: rows reach the end, and most rules drop some.
    assert len(kept) > (0 if with_tokens else 50) and sum(1 for n in want_dropped.values() if n) >= 10
