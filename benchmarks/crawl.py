"""Commits/s of the OctoPack crawler against PyDriller on the same repository, with peak memory.

Usage: python benchmarks/crawl.py [--repo PATH] [--commits 5000] [--pydriller-commits 0]

Without --repo a synthetic repository is generated with benchmarks/make_repo.py
(not timed). Each side runs in its own process; its peak memory is the
ru_maxrss that wait4 reports: the largest single process of its tree (the
crawler's worker process and its git children included). Both apply the same
sample definition (one file modified in place, language known, message
pre-filters, text under 1 MB), and the benchmark checks they find the same shas.
--pydriller-commits N limits PyDriller to the newest N commits (it is slow);
the crawler then walks the same N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure_octopack(repo: str, max_commits: int) -> dict:
    """Crawl with the project's crawler (one repository, the same code path as a service crawl)."""
    from octopack.services.crawler.crawl import Crawl, CrawlRequest
    from octopack.services.crawler.options import CrawlOptions

    class NullWriter:
        rows = 0
        shas: list[str] = []

        def write(self, batch) -> None:
            NullWriter.rows += batch.num_rows
            NullWriter.shas += batch.column("commit").to_pylist()

        def commit(self, **_: object) -> str:
            return "v0"

        def abort(self) -> None:
            pass

    class NullStore:
        def create_version(self, *_: object, **__: object) -> NullWriter:
            return NullWriter()

    with tempfile.TemporaryDirectory() as work:
        # The improved profile: the sample definition the PyDriller side implements.
        options = CrawlOptions(licenses=(), max_commits=max_commits, profile="improved")
        crawl = Crawl(CrawlRequest([repo], "bench", options), Path(work), workers=1)
        t0 = time.perf_counter()
        progress = crawl.run(NullStore())
        seconds = time.perf_counter() - t0
    return {"commits": progress.commits_seen, "samples": NullWriter.rows, "seconds": seconds,
            "shas": sorted(NullWriter.shas)}


def measure_pydriller(repo: str, max_commits: int) -> dict:
    """The same sample definition with PyDriller: one commit object and one diff per commit."""
    from pydriller import ModificationType, Repository

    from octopack.services.crawler.language import language_of
    from octopack.services.crawler.prefilter import MessageChecks, message_reason

    checks = MessageChecks(trimmed_message=True, update_message_any_case=True, literal_message_list=True)

    shas, commits = [], 0
    t0 = time.perf_counter()
    walk = Repository(repo, order="reverse").traverse_commits()
    for commit in walk:
        commits += 1
        if len(commit.parents) == 1:
            files = commit.modified_files
            if len(files) == 1 and files[0].change_type == ModificationType.MODIFY:
                f = files[0]
                path = f.new_path
                message = commit.msg.rstrip()
                if language_of(path) is not None and message_reason(message, path, checks) is None:
                    before, after = f.content_before, f.content
                    if (before is not None and after is not None and len(before) <= 1_000_000
                            and len(after) <= 1_000_000 and b"\0" not in before + after):
                        try:
                            before.decode("utf-8"), after.decode("utf-8")
                            shas.append(commit.hash)
                        except UnicodeDecodeError:
                            pass
        if max_commits and commits >= max_commits:
            break
    return {"commits": commits, "samples": len(shas), "seconds": time.perf_counter() - t0, "shas": sorted(shas)}


def run_child(side: str, repo: str, max_commits: int) -> dict:
    """Run one side in a fresh process; add its wall time and the peak RSS of its process tree."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    proc = subprocess.Popen([sys.executable, __file__, "--child", side, "--repo", repo,
                             "--max-commits", str(max_commits), "--out", str(out)])
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{side} failed with status {status}")
    doc = json.loads(out.read_text())
    out.unlink()
    doc["peak_mib"] = usage.ru_maxrss / 1024
    return doc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default="")
    parser.add_argument("--commits", type=int, default=5000, help="size of the generated repository")
    parser.add_argument("--pydriller-commits", type=int, default=0, help="newest N commits only (0: all)")
    parser.add_argument("--child", choices=["octopack", "pydriller"], help=argparse.SUPPRESS)
    parser.add_argument("--max-commits", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure = measure_octopack if args.child == "octopack" else measure_pydriller
        Path(args.out).write_text(json.dumps(measure(args.repo, args.max_commits)))
        return 0
    try:
        import pydriller  # noqa: F401
    except ImportError:
        print("pydriller is not installed: pip install -e '.[dev]'", file=sys.stderr)
        return 2

    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory() as tmp:
        repo = args.repo
        if not repo:
            sys.path.insert(0, str(ROOT / "benchmarks"))
            from make_repo import generate

            t0 = time.perf_counter()
            repo = str(generate(Path(tmp) / "repo", commits=args.commits))
            print(f"generated {repo} ({args.commits} commits) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        n = args.pydriller_commits
        ours = run_child("octopack", repo, n)
        theirs = run_child("pydriller", repo, n)
    assert ours["commits"] == theirs["commits"], (ours["commits"], theirs["commits"])
    assert ours["shas"] == theirs["shas"], "the crawler and PyDriller found different samples"
    table = Table(title=f"crawl benchmark: {ours['commits']:,} commits, {ours['samples']:,} samples (same shas)")
    for col in ("crawler", "seconds", "commits/s", "speed-up", "peak RSS MiB"):
        table.add_column(col, justify="left" if col == "crawler" else "right")
    for name, doc in (("PyDriller (baseline)", theirs), ("octopack", ours)):
        table.add_row(name, f"{doc['seconds']:.2f}", f"{doc['commits'] / doc['seconds']:,.0f}",
                      f"{theirs['seconds'] / doc['seconds']:.1f}x", f"{doc['peak_mib']:.0f}")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
