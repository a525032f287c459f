"""``octopack filter NAME[@VERSION] --out NAME``: apply the CommitPackFT rules and print per-rule statistics."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path
from typing import Any

from octopack.common.profiles import add_profile_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("filter", help="filter a CommitPack dataset version into CommitPackFT (16 rules)")
    p.add_argument("source", metavar="NAME[@VERSION]", help="input dataset (default version: the newest)")
    p.add_argument("--out", required=True, help="output dataset name (a new version is written)")
    p.add_argument("--tokenizer", default="", help="tokenizer.json or model folder (default: the default model's)")
    p.add_argument("--config", type=Path, default=None, help="YAML file: one section per rule (docs/commits.md)")
    add_profile_arguments(p, None, "the original scripts")
    p.add_argument("--ray-address", default="",
                   help="filter the shards with Ray Data on this cluster (its GCS host:port, or 'local' for a private Ray)")
    p.add_argument("--run-id", default="", help="name the run: the same id resumes it (default: derived from the request)")
    p.set_defaults(func=run)


def apply_profile(config: Any, profile: str | None, on: list[str], off: list[str]) -> Any:
    """``config`` with the command line's profile and corrections; unknown names are errors."""
    from octopack.services.filter.config import FilterConfig, parse_config

    doc = config.model_dump(mode="json")
    if profile:
        doc["profile"] = profile
    doc["corrections"] = {**doc["corrections"], **dict.fromkeys(on, True), **dict.fromkeys(off, False)}
    checked: FilterConfig = parse_config(json.dumps(doc), "command line")
    return checked


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from octopack.datasets.store import DatasetStore
    from octopack.services.filter.config import FilterConfig, load_config
    from octopack.services.filter.pipeline import LocalShardRunner, RayShardRunner, ShardRunner
    from octopack.services.filter.run import FilterRequest, FilterRun
    from octopack.services.filter.settings import FilterSettings

    settings = FilterSettings()
    config = load_config(args.config) if args.config else FilterConfig()
    config = apply_profile(config, args.profile, args.with_corrections, args.without_corrections)
    config.tokenizer = args.tokenizer or config.tokenizer or settings.tokenizer
    store = DatasetStore.from_settings(root=settings.datasets_root)
    filter_run = FilterRun(FilterRequest(args.source, args.out, config), store, args.run_id)
    driver = filter_run.driver()
    runner: ShardRunner = RayShardRunner(args.ray_address) if args.ray_address else LocalShardRunner()
    console = Console(stderr=True)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            driver.run(runner)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="filter", daemon=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"filter {filter_run.manifest.ref}", total=driver.rows_total)
        thread.start()
        while thread.is_alive():
            thread.join(0.3)
            bar.update(task, completed=driver.rows_done)
    if errors:
        raise errors[0]
    assert driver.stats is not None
    Console().print(driver.stats.render())
    corrections = ", ".join(config.active_corrections()) or "none"
    console.print(f"{driver.stats.rows_out:,} of {driver.stats.rows_in:,} rows kept -> "
                  f"[bold]{driver.output}[/bold] (profile {config.profile}; corrections: {corrections})")
    return 0
