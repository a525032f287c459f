"""Executor throughput: HumanEvalPack canonical Fix programs through the service vs the reference way.

The service: an executor server on a loopback port (2 slots), every program sent at once with
ExecuteBatch. The baseline: each program run as the reference harness does, 2 at a time, in a
fresh folder with a fresh process per step: ``python3``; ``node``; ``javac`` + ``java``;
``go test``; ``g++`` + run; a fresh cargo project per Rust program (``cargo test``, so rand/regex/md5
are rebuilt each time). Verdicts must be identical.

    .venv/bin/python benchmarks/executor.py                      # all 984 (the Rust baseline ~10 min)
    .venv/bin/python benchmarks/executor.py --languages python,js --limit 40
    .venv/bin/python benchmarks/executor.py --baseline-limit 20  # baseline on the first 20 per language

With ``--baseline-limit`` the baseline runs on a subset; the ratio compares seconds per program
on what each side ran, and the table says how many programs the baseline measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from octopack.common.vocabulary import LANGUAGES  # noqa: E402
from octopack.evaluation.dataset import Problem, load_problems  # noqa: E402
from octopack.evaluation.programs import RUST_MAIN, build_program  # noqa: E402
from octopack.executor.v1 import executor_pb2  # noqa: E402

TOOLS = Path("/opt/octopack")
TIMEOUT = {"python": 10, "js": 10, "java": 10, "go": 20, "cpp": 60, "rust": 300}
#: The reference gives a compile call the same timeout as a run; on a busy machine javac then
#: times out and a correct program fails. The baseline's compile calls get this much instead, so
#: the verdicts compare semantics, not load.
COMPILE_TIMEOUT = 300
CARGO_TOML = """[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

[dependencies]
rand = {{ path = "{tools}/rust/rand" }}
regex = "1"
md5 = "0.7"
"""


def fix_code(problem: Problem) -> str:
    base = RUST_MAIN + problem.declaration if problem.language == "rust" else problem.declaration
    return base + problem.canonical_solution


# ---- the baseline: the reference procedure ----------------------------------------------------------
def _sh(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None


def reference_run(language: str, program: executor_pb2.Program, gocache: Path) -> bool:
    """True when the program passes, run the way the reference harness runs it."""
    text = program.source + "\n" + program.test
    env = {"PATH": os.environ["PATH"], "HOME": "/tmp", "LANG": "C.UTF-8"}
    limit = TIMEOUT[language]
    with tempfile.TemporaryDirectory(prefix="ref-") as tmp:
        d = Path(tmp)
        if language == "python":
            (d / "main.py").write_text(text)
            r = _sh(["/usr/bin/python3", "main.py"], d, env, limit)
            return r is not None and r.returncode == 0
        if language == "js":
            (d / "main.js").write_text(text)
            env["NODE_PATH"] = str(TOOLS / "node" / "node_modules")
            r = _sh(["node", "main.js"], d, env, limit)
            return r is not None and r.returncode == 0 and not r.stdout and not r.stderr
        if language == "java":
            (d / "Main.java").write_text(text)
            c = _sh(["javac", "Main.java"], d, env, COMPILE_TIMEOUT)
            if c is None or c.returncode != 0:
                return False
            r = _sh(["java", "Main"], d, env, limit)
            return r is not None and r.returncode == 0
        if language == "go":
            (d / "main_test.go").write_text(text)
            env.update(GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=str(gocache))
            r = _sh(["go", "test", "main_test.go"], d, env, COMPILE_TIMEOUT)
            return r is not None and r.returncode == 0
        if language == "cpp":
            (d / "main.cpp").write_text(text)
            c = _sh(["g++", "-std=c++11", "main.cpp", "-lcrypto", "-lssl"], d, env, COMPILE_TIMEOUT)
            if c is None or c.returncode != 0:
                return False
            r = _sh(["./a.out"], d, env, limit)
            return r is not None and r.returncode == 0
        # Rust: a fresh cargo project per program, its own target folder.
        name = "p" + program.id.replace("/", "_").replace("#", "_").lower()
        (d / "src").mkdir()
        (d / "src" / "main.rs").write_text(text)
        (d / "Cargo.toml").write_text(CARGO_TOML.format(name=name, tools=TOOLS))
        env.update(CARGO_HOME=str(TOOLS / "rust" / "cargo-home"), PATH=f"{TOOLS}/rust/bin:{env['PATH']}")
        r = _sh(["cargo", "test", "--offline", "-q"], d, env, max(limit, COMPILE_TIMEOUT))
        return r is not None and r.returncode == 0


def baseline(
    programs: dict[str, list[executor_pb2.Program]], workers: int
) -> dict[str, tuple[float, list[bool]]]:
    gocache = Path(tempfile.mkdtemp(prefix="ref-gocache-"))
    shutil.copytree(TOOLS / "go" / "cache", gocache, dirs_exist_ok=True)
    out = {}
    try:
        for language, progs in programs.items():
            start = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                verdicts = list(pool.map(lambda p, lang=language: reference_run(lang, p, gocache), progs))
            out[language] = (time.perf_counter() - start, verdicts)
    finally:
        shutil.rmtree(gocache, ignore_errors=True)
    return out


# ---- the service ---------------------------------------------------------------------------------
async def service(
    programs: dict[str, list[executor_pb2.Program]], workers: int
) -> dict[str, tuple[float, list[bool]]]:
    from octopack.common.client import aio_channel
    from octopack.common.server import start_server
    from octopack.executor.v1 import executor_pb2_grpc
    from octopack.services.executor.server import executor_service
    from octopack.services.executor.settings import ExecutorSettings

    settings = ExecutorSettings(port=0, concurrency=workers, max_queue=2048, max_batch=2048)
    running = await start_server(settings, [executor_service(settings)])
    out = {}
    try:
        async with aio_channel(running.address) as channel:
            stub = executor_pb2_grpc.ExecutorServiceStub(channel)
            for language, progs in programs.items():
                start = time.perf_counter()
                reply = await stub.ExecuteBatch(executor_pb2.ExecuteBatchRequest(programs=progs))
                out[language] = (
                    time.perf_counter() - start,
                    [r.status == executor_pb2.STATUS_PASSED for r in reply.results],
                )
    finally:
        await running.stop(1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--languages", default=",".join(LANGUAGES), help="comma-separated (default: all six)")
    parser.add_argument("--limit", type=int, default=164, help="problems per language for the service")
    parser.add_argument(
        "--baseline-limit", type=int, default=None, help="problems per language for the baseline"
    )
    parser.add_argument("--workers", type=int, default=2, help="programs at once, both sides")
    args = parser.parse_args()
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    programs = {
        lang: [build_program(p, fix_code(p), p.task_id) for p in load_problems(lang)[: args.limit]]
        for lang in languages
    }
    base_n = min(args.limit, args.baseline_limit or args.limit)
    served = asyncio.run(service(programs, args.workers))
    service_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ref = baseline({lang: progs[:base_n] for lang, progs in programs.items()}, args.workers)

    table = Table(title=f"HumanEvalPack canonical Fix programs, {args.workers} workers each side")
    for col in (
        "language",
        "programs",
        "service s",
        "service passed",
        "baseline programs",
        "baseline s",
        "baseline passed",
        "s/program svc | ref",
        "ratio",
        "verdicts equal",
    ):
        table.add_column(col, justify="right")
    totals = [0, 0.0, 0, 0, 0.0, 0]
    all_equal = True
    for lang in languages:
        s_time, s_ok = served[lang]
        b_time, b_ok = ref[lang]
        equal = s_ok[: len(b_ok)] == b_ok
        differ = [programs[lang][i].id for i, (a, b) in enumerate(zip(s_ok, b_ok, strict=False)) if a != b]
        if differ:
            Console().print(f"[red]{lang}: verdicts differ on {', '.join(differ)}[/red]")
        all_equal &= equal
        s_per, b_per = s_time / len(s_ok), b_time / max(1, len(b_ok))
        table.add_row(
            lang,
            str(len(s_ok)),
            f"{s_time:.1f}",
            str(sum(s_ok)),
            str(len(b_ok)),
            f"{b_time:.1f}",
            str(sum(b_ok)),
            f"{s_per:.3f} | {b_per:.3f}",
            f"{b_per / s_per:.1f}x",
            "yes" if equal else "NO",
        )
        for i, v in enumerate([len(s_ok), s_time, sum(s_ok), len(b_ok), b_time, sum(b_ok)]):
            totals[i] += v
    n, s_time, s_pass, bn, b_time, b_pass = totals
    s_per, b_per = s_time / max(1, n), b_time / max(1, bn)
    table.add_row(
        "all",
        str(n),
        f"{s_time:.1f}",
        str(s_pass),
        str(bn),
        f"{b_time:.1f}",
        str(b_pass),
        f"{s_per:.3f} | {b_per:.3f}",
        f"{b_per / s_per:.1f}x",
        "yes" if all_equal else "NO",
    )
    console = Console(width=180)
    console.print(table)
    console.print(f"service: {n / s_time:.2f} programs/s; baseline: {bn / b_time:.2f} programs/s")
    console.print(
        f"peak RSS: service process (server + client) {service_rss:.0f} MiB, largest sandboxed child "
        f"{child_rss:.0f} MiB; baseline measured on {base_n} of {args.limit} problems per language"
    )
    if not all_equal:
        raise SystemExit("verdicts differ between the service and the reference procedure")


if __name__ == "__main__":
    main()
