"""Rows each data profile and each single correction keeps and drops on real Git histories.

Usage: .venv/bin/python scripts/profile_effects.py [REPO_OR_BUNDLE ...] [--tokenizer PATH]

Without repositories it uses the shared histories ``../shared/data/repos/*.bundle``. Each
repository is crawled under ``paper``, under ``improved`` and under ``paper`` plus one crawl
correction at a time; the paper crawl is then filtered under ``paper``, ``improved`` and
``paper`` plus one filter correction at a time. The tables give the samples crawled, the rows
each CommitPackFT rule drops and, per correction, the rows it keeps that paper drops (+) and
the rows it drops that paper keeps (-), and how many rows its own rule drops with it.
"improved" filters the improved crawl. The tokenizer of rule 8 defaults to the default
model's. The output is Markdown (docs/commits.md quotes it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

from octopack.services.crawler.crawl import Crawl, CrawlRequest  # noqa: E402
from octopack.services.crawler.options import CORRECTIONS as CRAWL_CORRECTIONS  # noqa: E402
from octopack.services.crawler.options import CrawlOptions  # noqa: E402
from octopack.services.filter.config import CORRECTIONS as FILTER_CORRECTIONS  # noqa: E402
from octopack.services.filter.config import FilterConfig  # noqa: E402
from octopack.services.filter.pipeline import run_local  # noqa: E402
from octopack.services.filter.rules import build_rules  # noqa: E402
from octopack.services.filter.stats import FilterStats  # noqa: E402


def crawl(repo: Path, work: Path, store: Any, **options: Any) -> pa.Table:
    """The samples of ``repo`` under ``options``, crawled in this process into a version of ``store``."""
    from octopack.services.crawler.runner import LocalRunner

    request = CrawlRequest([str(repo)], "effects", CrawlOptions(licenses=(), **options)).validate()
    progress = Crawl(request, store.stage("effects", request.default_run_id()),
                     LocalRunner(1, cache_dir=str(work / "cache"))).run()
    return store.read_table("effects", progress.version)


def filtered(table: pa.Table, tokenizer: str, **config: Any) -> tuple[set[tuple[str, str]], list[int]]:
    rules = build_rules(FilterConfig.model_validate(config), tokenizer)
    stats = FilterStats.for_rules(rules)
    kept = {(r["commit"], r["new_file"]) for t in run_local(table.to_batches(4096), rules, stats)
            for r in t.select(["commit", "new_file"]).to_pylist()}
    return kept, [r.dropped for r in stats.rules]


def _repos(paths: list[str], tmp: Path) -> Iterator[tuple[str, Path]]:
    sources = [Path(p) for p in paths] or sorted((ROOT.parent / "shared" / "data" / "repos").glob("*.bundle"))
    if not sources:
        sys.exit("no repositories given and ../shared/data/repos holds no bundles")
    for source in sources:
        if source.suffix == ".bundle":
            clone = tmp / (source.stem + ".git")
            subprocess.run(["git", "clone", "-q", "--bare", str(source), str(clone)], check=True)
            yield source.stem, clone
        else:
            yield source.name, source


def _keys(table: pa.Table) -> set[tuple[str, str]]:
    return {(r["commit"], r["new_file"]) for r in table.select(["commit", "new_file"]).to_pylist()}


def _delta(base: set[Any], other: set[Any]) -> str:
    return f"+{len(other - base)} / -{len(base - other)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repositories", nargs="*", help="Git repositories or bundles")
    parser.add_argument("--tokenizer", default="", help="tokenizer of rule 8 (default: the default model's)")
    args = parser.parse_args()
    if not args.tokenizer:
        from octopack.models.default import default_tokenizer_path

        args.tokenizer = str(default_tokenizer_path())
    from octopack.common.objectstore import ObjectStore
    from octopack.common.s3server import LocalS3Server
    from octopack.datasets.store import DatasetStore

    with tempfile.TemporaryDirectory(prefix="profile-effects-") as name:
        tmp = Path(name)
        server = LocalS3Server(tmp / "s3").start()  # the crawl writes its samples to S3, as everywhere
        s3 = server.settings(bucket="effects")
        ObjectStore(s3).ensure_bucket()
        store = DatasetStore.from_settings(s3)
        try:
            _report(args, tmp, store)
        finally:
            server.stop()
    return 0


def _report(args: argparse.Namespace, tmp: Path, store: Any) -> None:
    for repo_name, repo in _repos(args.repositories, tmp):
        paper = crawl(repo, tmp / f"{repo_name}-paper", store)
        improved = crawl(repo, tmp / f"{repo_name}-improved", store, profile="improved")
        print(f"\n## {repo_name}\n\ncrawl: paper {paper.num_rows} samples, improved {improved.num_rows}\n")
        print("| crawl correction | samples | kept (+) / dropped (-) against paper |\n|---|---|---|")
        base = _keys(paper)
        for correction in CRAWL_CORRECTIONS:
            single = crawl(repo, tmp / f"{repo_name}-{correction}", store, corrections={correction: True})
            print(f"| `{correction}` | {single.num_rows} | {_delta(base, _keys(single))} |")
        kept_paper, drops_paper = filtered(paper, args.tokenizer)
        kept_improved, drops_improved = filtered(improved, args.tokenizer, profile="improved")
        print(f"\nCommitPackFT: paper (crawl and filter) keeps {len(kept_paper)} of {paper.num_rows}, "
              f"improved {len(kept_improved)} of {improved.num_rows}\n")
        print("| rule | dropped (paper) | dropped (improved) |\n|---|---|---|")
        for number, (a, b) in enumerate(zip(drops_paper, drops_improved, strict=True), start=1):
            print(f"| {number} | {a} | {b} |")
        # Without rule 8 many more rows reach the later rules: their corrections show there.
        no_tokens = {"token_length": {"enabled": False}}
        loose, loose_drops = filtered(paper, "", **no_tokens)
        print(f"\nOne filter correction on the paper crawl (paper keeps {len(kept_paper)}; without rule 8 "
              f"{len(loose)}):\n")
        print("| filter correction | rule | its rule drops (paper -> with it) | kept (+) / dropped (-) | "
              "without rule 8: its rule drops | without rule 8: kept (+) / dropped (-) |\n"
              "|---|---|---|---|---|---|")
        for correction, (rule, _) in FILTER_CORRECTIONS.items():
            kept, drops = filtered(paper, args.tokenizer, corrections={correction: True})
            loose_kept, loose_with = filtered(paper, "", corrections={correction: True}, **no_tokens)
            at = rule - 1 if rule < 8 else rule - 2  # rule 8 is not in the list without it
            print(f"| `{correction}` | {rule} | {drops_paper[rule - 1]} -> {drops[rule - 1]} | "
                  f"{_delta(kept_paper, kept)} | {loose_drops[at]} -> {loose_with[at]} | "
                  f"{_delta(loose, loose_kept)} |")


if __name__ == "__main__":
    sys.exit(main())
