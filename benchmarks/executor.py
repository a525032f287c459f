"""Executor throughput: HumanEvalPack canonical Fix programs through the service vs the reference way.

The service: an executor server in its own process on a loopback port (2 slots), fed with
ExecuteBatch. The baseline: each program run as the reference harness does, 2 at a time, in a
fresh folder with a fresh process per step: ``python3``; ``node``; ``javac`` + ``java``;
``go test``; ``g++`` + run; a fresh cargo project per Rust program (``cargo test``, so
rand/regex/md5 are rebuilt each time). Verdicts (passed or not) must be identical.

Both sides run the same programs, side by side: each language is cut into chunks, and the
baseline and the service take turns chunk by chunk, so that a change in the machine's load
falls on both. Ratios compare the two sides' summed wall times.

    .venv/bin/python benchmarks/executor.py                      # all 984 (the Rust baseline ~10 min)
    .venv/bin/python benchmarks/executor.py --languages python,js --limit 40
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
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
    # Its own session, killed whole on a time-out: `cargo test` leaves the test binary running otherwise.
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


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


class Baseline:
    """The reference procedure, ``workers`` programs at a time."""

    def __init__(self, workers: int) -> None:
        self.pool = ThreadPoolExecutor(workers)
        self.gocache = Path(tempfile.mkdtemp(prefix="ref-gocache-"))
        shutil.copytree(TOOLS / "go" / "cache", self.gocache, dirs_exist_ok=True)

    def run(self, language: str, programs: list[executor_pb2.Program]) -> list[bool]:
        return list(self.pool.map(lambda p: reference_run(language, p, self.gocache), programs))

    def close(self) -> None:
        self.pool.shutdown()
        shutil.rmtree(self.gocache, ignore_errors=True)


# ---- the service ---------------------------------------------------------------------------------
class Service:
    """An executor server in its own process (as deployed), ``workers`` slots."""

    def __init__(self, workers: int) -> None:
        import grpc

        from octopack.executor.v1 import executor_pb2_grpc

        self.port, metrics = _free_port(), _free_port()
        env = {
            **os.environ,
            "OCTOPACK_EXECUTOR_PORT": str(self.port),
            "OCTOPACK_EXECUTOR_METRICS_PORT": str(metrics),
            "OCTOPACK_EXECUTOR_CONCURRENCY": str(workers),
            "OCTOPACK_EXECUTOR_MAX_QUEUE": "4096",
            "OCTOPACK_EXECUTOR_MAX_BATCH": "4096",
        }
        fd, self.log = tempfile.mkstemp(prefix="executor-bench-", suffix=".log")
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "octopack.services.executor"], env=env, stdout=log, stderr=log
            )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = executor_pb2_grpc.ExecutorServiceStub(self.channel)
        caps = self.stub.GetCapabilities(executor_pb2.GetCapabilitiesRequest(), wait_for_ready=True, timeout=120)
        self.sandbox = caps.sandbox

    def run(self, programs: list[executor_pb2.Program]) -> list[bool]:
        reply = self.stub.ExecuteBatch(executor_pb2.ExecuteBatchRequest(programs=programs), timeout=3600)
        return [r.status == executor_pb2.STATUS_PASSED for r in reply.results]

    def close(self) -> None:
        self.channel.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        os.unlink(self.log)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chunks(items: list[executor_pb2.Program], size: int) -> list[list[executor_pb2.Program]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", default=",".join(LANGUAGES), help="comma-separated (default: all six)")
    parser.add_argument("--limit", type=int, default=164, help="problems per language (default: all 164)")
    parser.add_argument("--workers", type=int, default=2, help="programs at once, both sides")
    parser.add_argument("--chunk", type=int, default=41, help="programs per turn of each side")
    args = parser.parse_args()
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    programs = {
        lang: [build_program(p, fix_code(p), p.task_id) for p in load_problems(lang)[: args.limit]]
        for lang in languages
    }
    console = Console(width=160)
    service, baseline = Service(args.workers), Baseline(args.workers)
    console.print(f"service sandbox: {service.sandbox}")
    timings: dict[str, list[float]] = {lang: [0.0, 0.0] for lang in languages}
    verdicts: dict[str, tuple[list[bool], list[bool]]] = {lang: ([], []) for lang in languages}
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("programs (both sides)", total=2 * sum(map(len, programs.values())))
            for lang in languages:
                for turn, chunk in enumerate(_chunks(programs[lang], args.chunk)):
                    # Alternate who goes first, so neither side always meets the same moment.
                    sides = [("service", lambda c=chunk: service.run(c)), ("baseline", lambda c=chunk, lg=lang: baseline.run(lg, c))]
                    for side, run in sides if turn % 2 == 0 else sides[::-1]:
                        start = time.perf_counter()
                        passed = run()
                        timings[lang][side == "baseline"] += time.perf_counter() - start
                        verdicts[lang][side == "baseline"].extend(passed)
                        progress.advance(task, len(chunk))
    finally:
        service.close()
        baseline.close()

    table = Table(title=f"HumanEvalPack canonical Fix programs, {args.workers} at a time on each side, side by side")
    for col in ("language", "programs", "service s", "baseline s", "s/program svc | ref", "ratio", "passed svc | ref", "verdicts"):
        table.add_column(col, justify="right")
    all_equal, total = True, [0, 0.0, 0.0]
    for lang in languages:
        (s_time, b_time), (s_ok, b_ok) = timings[lang], verdicts[lang]
        differ = [programs[lang][i].id for i, (a, b) in enumerate(zip(s_ok, b_ok, strict=True)) if a != b]
        if differ:
            console.print(f"[red]{lang}: verdicts differ on {', '.join(differ)}[/red]")
        all_equal &= not differ
        n = len(s_ok)
        table.add_row(
            lang, str(n), f"{s_time:.1f}", f"{b_time:.1f}", f"{s_time / n:.3f} | {b_time / n:.3f}",
            f"{b_time / s_time:.2f}x", f"{sum(s_ok)} | {sum(b_ok)}", "equal" if not differ else f"{len(differ)} differ",
        )
        total = [total[0] + n, total[1] + s_time, total[2] + b_time]
    n, s_time, b_time = total
    table.add_row("all", str(n), f"{s_time:.1f}", f"{b_time:.1f}", f"{s_time / n:.3f} | {b_time / n:.3f}",
                  f"{b_time / s_time:.2f}x", "", "equal" if all_equal else "NO")
    console.print(table)
    console.print(f"service: {n / s_time:.2f} programs/s; baseline: {n / b_time:.2f} programs/s")
    if not all_equal:
        raise SystemExit("verdicts differ between the service and the reference procedure")


if __name__ == "__main__":
    main()
