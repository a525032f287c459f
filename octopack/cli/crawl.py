"""``octopack crawl REPO... --dataset NAME``: crawl Git repositories into a CommitPack dataset version."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crawl", help="crawl Git repositories (URLs or paths) into a CommitPack dataset version")
    p.add_argument("repositories", nargs="+", metavar="REPO", help="Git URL or local path")
    p.add_argument("--dataset", required=True, help="output dataset name (a new version is written)")
    p.add_argument("--branch", default="", help="branch to walk (default: each repository's HEAD)")
    p.add_argument("--since", default="", help="only commits committed on or after this ISO date")
    p.add_argument("--until", default="", help="only commits committed on or before this ISO date")
    p.add_argument("--max-commits", type=int, default=0, help="walk at most N commits per repository")
    p.add_argument("--licenses", nargs="*", default=None,
                   help="allowed SPDX ids (default: the paper's 12; add 'unknown' for unlicensed repositories)")
    p.add_argument("--all-licenses", action="store_true", help="keep every repository whatever its license")
    p.add_argument("--languages", nargs="*", default=[], help="keep only these languages, e.g. Python Go")
    p.add_argument("--max-file-bytes", type=int, default=1_000_000, help="skip larger files (counted)")
    p.add_argument("--profile", choices=("paper", "improved"), default="paper",
                   help="paper: the original selection's decisions (default); improved: every correction on")
    p.add_argument("--with", dest="with_corrections", action="append", default=[], metavar="CORRECTION",
                   help="turn one correction on (repeat; names in docs/commits.md)")
    p.add_argument("--without", dest="without_corrections", action="append", default=[], metavar="CORRECTION",
                   help="turn one correction off (repeat)")
    p.add_argument("--ray-address", default="", help="crawl repositories as Ray tasks on this cluster")
    p.add_argument("--workers", type=int, default=0, help="local processes (default: OCTOPACK_CRAWLER_WORKERS)")
    p.add_argument("--work-dir", type=Path, default=None, help="clones and checkpoints (OCTOPACK_CRAWLER_WORK_DIR)")
    p.add_argument("--fresh", action="store_true", help="ignore checkpoints of an earlier identical crawl")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from octopack.datasets.store import DatasetStore
    from octopack.services.crawler.crawl import Crawl, CrawlRequest
    from octopack.services.crawler.options import CrawlOptions
    from octopack.services.crawler.settings import CrawlerSettings

    settings = CrawlerSettings()
    options: dict[str, Any] = {
        "branch": args.branch, "since": args.since, "until": args.until, "max_commits": args.max_commits,
        "languages": tuple(args.languages), "max_file_bytes": args.max_file_bytes, "profile": args.profile,
        "corrections": {**dict.fromkeys(args.with_corrections, True), **dict.fromkeys(args.without_corrections, False)},
    }
    if args.all_licenses:
        options["licenses"] = ()
    elif args.licenses is not None:
        options["licenses"] = tuple(args.licenses)
    request = CrawlRequest(args.repositories, args.dataset, _options(CrawlOptions, options), args.ray_address,
                           args.fresh)
    crawl = Crawl(request, args.work_dir or settings.work_dir, args.workers or settings.workers)
    store = DatasetStore.from_settings(root=settings.datasets_root)
    console = Console(stderr=True)
    _follow(crawl, store, console)
    _summary(crawl, console)
    return 1 if crawl.progress.repositories_failed and not crawl.progress.repositories_done else 0


def _options(cls: Any, values: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from octopack.common.errors import InvalidArgument

    try:
        return cls(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidArgument(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from exc


def _follow(crawl: Any, store: Any, console: Any) -> None:
    """Run the crawl in a thread and draw its progress until it ends; re-raise its error."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    errors: list[BaseException] = []

    def target() -> None:
        try:
            crawl.run(store)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="crawl", daemon=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[detail]}"))
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("repositories", total=crawl.progress.repositories_total, detail="")
        thread.start()
        while thread.is_alive():
            thread.join(0.3)
            with crawl.lock:
                p = crawl.progress
                commits, samples, _ = p.totals()
                done = p.repositories_done + p.repositories_failed
            bar.update(task, completed=done, detail=f"{commits:,} commits, {samples:,} samples")
    if errors:
        raise errors[0]


def _summary(crawl: Any, console: Any) -> None:
    from rich.table import Table

    p = crawl.progress
    table = Table(title="skipped commits by reason")
    table.add_column("reason")
    table.add_column("commits", justify="right")
    for reason, count in sorted(p.skipped.items(), key=lambda kv: -kv[1]):
        table.add_row(reason, f"{count:,}")
    console.print(table)
    for source, message in p.errors.items():
        console.print(f"[red]failed[/red] {source}: {message}")
    options = crawl.request.options
    console.print(f"profile {options.profile}; corrections: {', '.join(options.active_corrections()) or 'none'}")
    console.print(
        f"crawl {crawl.crawl_id}: {p.repositories_done} repositories done ({p.repositories_resumed} from "
        f"checkpoints), {p.repositories_failed} failed, {p.commits_seen:,} commits, "
        f"{p.samples_written:,} samples -> [bold]{crawl.request.dataset}@{p.version}[/bold]"
    )
