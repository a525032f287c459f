"""``octopack crawl REPO... --dataset NAME``: crawl Git repositories into a CommitPack dataset version."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any

from octopack.common.profiles import add_profile_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crawl", help="crawl Git repositories (URLs or paths) into a CommitPack dataset version")
    p.add_argument("repositories", nargs="*", metavar="REPO", help="Git URL or local path")
    p.add_argument("--repos-file", type=Path, default=None, metavar="FILE",
                   help="more repositories: one URL or path a line, '#' starts a comment")
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
    add_profile_arguments(p, "paper", "the original selection")
    p.add_argument("--ray-address", default="",
                   help="crawl as Ray tasks on this cluster (its GCS host:port, or 'local' for a private Ray)")
    p.add_argument("--workers", type=int, default=0, help="local processes (default: OCTOPACK_CRAWLER_WORKERS)")
    p.add_argument("--work-dir", type=Path, default=None, help="bare mirrors kept between crawls (OCTOPACK_CRAWLER_WORK_DIR)")
    p.add_argument("--run-id", default="", help="name the run: the same id resumes it (default: derived from the request)")
    p.add_argument("--fresh", action="store_true", help="a new run even when an identical crawl ran before")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from octopack.common.errors import InvalidArgument
    from octopack.datasets.store import DatasetStore
    from octopack.services.crawler.convert import options_from
    from octopack.services.crawler.crawl import Crawl, CrawlRequest
    from octopack.services.crawler.driver import describe
    from octopack.services.crawler.runner import LocalRunner, RayRunner, Runner
    from octopack.services.crawler.settings import CrawlerSettings
    from octopack.services.crawler.sources import read_lines

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
    sources = list(args.repositories) + (read_lines(args.repos_file) if args.repos_file else [])
    if not sources:
        raise InvalidArgument("give at least one REPO or a --repos-file with repositories in it")
    request = CrawlRequest(sources, args.dataset, options_from(options, "--"), fresh=args.fresh).validate()
    store = DatasetStore.from_settings(root=settings.datasets_root)
    area = store.stage(request.dataset, args.run_id or request.default_run_id(), description=describe(request))
    work_dir = args.work_dir or settings.work_dir
    runner: Runner = (
        RayRunner(args.ray_address) if args.ray_address
        else LocalRunner(args.workers or settings.workers, cache_dir=str(work_dir / "cache"))
    )
    crawl = Crawl(request, area, runner, partition_bytes=settings.partition_bytes)
    console = Console(stderr=True)
    _follow(crawl, console)
    _summary(crawl, console)
    return 1 if crawl.progress.repositories_failed and not crawl.progress.repositories_done else 0


def _follow(crawl: Any, console: Any) -> None:
    """Run the crawl in a thread and draw its progress until it ends; re-raise its error."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    errors: list[BaseException] = []

    def target() -> None:
        try:
            crawl.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="crawl", daemon=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[detail]}"))
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("repositories", total=None, detail="")
        thread.start()
        while thread.is_alive():
            thread.join(0.3)
            with crawl.lock:
                p = crawl.progress
                done = p.repositories_done + p.repositories_failed
                detail = (f"{p.phase}: {p.repositories_failed:,} failed, {p.commits_seen:,} commits "
                          f"({p.commits_per_second:,.0f}/s), {p.samples_emitted:,} samples")
                total = p.repositories_total or None
            bar.update(task, completed=done, total=total, detail=detail)
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
        f"crawl {crawl.run_id}: {p.repositories_done} repositories done ({p.repositories_resumed} from an earlier "
        f"run), {p.repositories_failed} failed, {p.commits_seen:,} commits ({p.commits_per_second:,.0f}/s), "
        f"{p.samples_written:,} samples -> [bold]{crawl.request.dataset}@{p.version}[/bold]"
    )
