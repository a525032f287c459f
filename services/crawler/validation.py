"""What the crawler accepts: every CrawlerService request, bounded and checked once at the edge.

Repositories are checked for syntax here (no option or transport-helper injection, a known scheme);
the network policy (:mod:`~octopack.services.crawler.policy`) then decides whether the server may
fetch them, when the crawl is requested and again where git runs.
"""

from __future__ import annotations

from functools import partial

from octopack.common.background import RUN_ID_RULE
from octopack.common.checks import git_date, git_ref, object_key, ray_address, repository
from octopack.common.profiles import PROFILES
from octopack.common.validation import Rule, Rules, choice, items, number
from octopack.common.vocabulary import check_commitpack_language
from octopack.datasets.names import check_name, parse_ref
from octopack.services.crawler.options import CORRECTIONS
from octopack.services.crawler.settings import CrawlerSettings

P = "octopack.crawler.v1."
#: Most repositories in one crawl.
MAX_REPOSITORIES = 256
_CRAWL_ID = Rule(max_chars=128, pattern=RUN_ID_RULE.strip("^$"), hint="a crawl id from StartCrawl")


def _correction(name: str) -> None:
    if name not in CORRECTIONS:
        raise ValueError(f"unknown correction {name!r}; known: {', '.join(CORRECTIONS)}")


def rules(settings: CrawlerSettings) -> Rules:
    """The crawler's rules; a request may name only the server's Ray cluster (or a loopback one)."""
    return Rules(fields={
        P + "CrawlSpec.repositories": items(MAX_REPOSITORIES, max_chars=2048, check=repository),
        # Longer lists come as an object of the bucket or a dataset, read lazily where the crawl runs.
        P + "CrawlSpec.repositories_file": Rule(max_chars=1024, check=object_key),
        P + "CrawlSpec.repositories_dataset": Rule(max_chars=200, check=parse_ref),
        P + "CrawlSpec.dataset": Rule(max_chars=63, check=check_name),
        P + "CrawlSpec.branch": Rule(max_chars=255, check=git_ref),
        P + "CrawlSpec.since": Rule(max_chars=40, check=git_date),
        P + "CrawlSpec.until": Rule(max_chars=40, check=git_date),
        P + "CrawlSpec.max_commits": number(0, 1_000_000_000),
        P + "CrawlSpec.licenses": items(64, pattern=r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}", hint="an SPDX id such as mit"),
        P + "CrawlSpec.languages": items(400, max_chars=100, check=check_commitpack_language),
        P + "CrawlSpec.ray_address": Rule(max_chars=270, check=partial(ray_address, configured=settings.ray_address)),
        P + "CrawlSpec.max_file_bytes": number(0, 1 << 30),
        P + "CrawlSpec.profile": choice(PROFILES, "data profile"),
        P + "CrawlSpec.corrections": items(len(CORRECTIONS), max_chars=64, check=_correction),
        P + "StartCrawlRequest.run_id": Rule(max_chars=128, pattern=RUN_ID_RULE.strip("^$"),
                                             hint="1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit"),
        P + "GetCrawlRequest.crawl_id": _CRAWL_ID,
        P + "WatchCrawlRequest.crawl_id": _CRAWL_ID,
        P + "CancelCrawlRequest.crawl_id": _CRAWL_ID,
    })
