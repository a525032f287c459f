"""A real executor server in its own process on a free loopback port, reached through the stubs.

The server runs as root (the default here), or as an unprivileged user (``user=``), with secrets
planted where a careless sandbox would show them: in its environment, and in world-readable files
laid out like the local stack's state and S3 data (``secret_files``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from octopack.evaluation.dataset import Problem
from octopack.evaluation.programs import RUST_MAIN
from octopack.executor.v1 import executor_pb2_grpc

#: Planted in the server's environment and state files; no program may ever see it.
SECRET = "octopack-fake-secret-7f3a9c1e"
ROOT = Path(__file__).resolve().parents[3]
#: The unprivileged user the non-root deployment runs the server as (created when missing).
TEST_USER = "octopack-test"


class _Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
              grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds ``authorization: Bearer <token>`` to every call (the chart's pods require a token)."""

    def __init__(self, token: str) -> None:
        self.metadata = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> Any:
        return details._replace(metadata=[*(details.metadata or ()), self.metadata])

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)


def bearer_channel(address: str, token: str) -> grpc.Channel:
    """A plaintext channel that sends ``token`` with every call (none when it is empty)."""
    channel = grpc.insecure_channel(address)
    return grpc.intercept_channel(channel, _Bearer(token)) if token else channel


@dataclass
class ExecutorServer:
    """One running executor, wherever it runs, as the hostile suite needs to see it."""

    address: str
    metrics_port: int
    #: Host pid whose descendants are the server and its sandboxes.
    root_pid: int
    #: Files holding SECRET, named as the server's own processes see them.
    secret_files: list[str]
    #: The server's work root (OCTOPACK_EXECUTOR_WORK_ROOT), as its processes see it.
    work_root: str
    label: str = "host-root"
    process: subprocess.Popen[bytes] | None = None
    #: Whether a path exists in the server's world (its file system, not the test's).
    exists: Callable[[str], bool] = os.path.exists
    #: The port the server listens on, as a process beside it would connect to it.
    internal_port: int = 0
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    #: The bearer token the server requires ("" when it requires none).
    token: str = ""

    def stub(self) -> executor_pb2_grpc.ExecutorServiceStub:
        return executor_pb2_grpc.ExecutorServiceStub(bearer_channel(self.address, self.token))

    def serving(self) -> bool:
        """True while the server answers health checks (and, on the host, its process lives)."""
        if self.process is not None and self.process.poll() is not None:
            return False
        channel = grpc.insecure_channel(self.address)
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        except grpc.RpcError:
            return False
        finally:
            channel.close()
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    def leftovers(self) -> list[str]:
        """Processes under the server other than the server and its slots (bubblewrap, supervisors, warm javac)."""
        parents: dict[int, int] = {}
        describe: dict[int, str] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if state != "Z":
                parents[int(pid)] = int(ppid)
                describe[int(pid)] = cmdline
        found = []
        for pid, cmdline in describe.items():
            ancestor = parents.get(pid)
            while ancestor and ancestor != self.root_pid:
                ancestor = parents.get(ancestor)
            if ancestor != self.root_pid:
                continue
            own = cmdline.startswith(("bwrap ", "setpriv ")) or "supervisor.py" in cmdline or cmdline.endswith(" JavacServer ")
            if not own and "octopack.services.executor" not in cmdline:
                found.append(f"{pid}: {cmdline[:120]}")
        return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_user(name: str = TEST_USER) -> pwd.struct_passwd:
    """The unprivileged test user, created (system account, no home) when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip(f"the non-root deployment needs user {name!r}: run as root (useradd) or create it")
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    return pwd.getpwnam(name)


def plant_secrets(home: Path, shared: Path, owner: int | None) -> list[str]:
    """The local stack's files as a careless install leaves them: world-readable, holding SECRET."""
    os.chmod(shared, 0o755)
    files = [home / ".octopack" / "stack" / "state.json", shared / "state.json", shared / "s3" / "data" / "jobs" / "job.json"]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'{{"aws_secret_access_key": "{SECRET}"}}')
        path.chmod(0o644)
        for folder in [path.parent, *path.parent.parents]:
            if folder in (home, shared.parent):
                break
            folder.chmod(0o755)
            if owner is not None:
                os.chown(folder, owner, owner)
        if owner is not None:
            os.chown(path, owner, owner)
    return [str(p) for p in files]


def start_executor(tmp: Path, user: str | None = None, **settings: str) -> ExecutorServer:
    """An executor on free ports; as ``user`` (unprivileged) when given, else as the test's uid."""
    port, metrics = free_port(), free_port()
    account = ensure_user(user) if user else None
    home = Path(tempfile.mkdtemp(prefix="octopack-home-")) if account else tmp
    work_root = Path(tempfile.mkdtemp(prefix="octopack-exec-"))
    os.chmod(work_root, 0o755)
    if account is not None:
        os.chown(home, account.pw_uid, account.pw_gid)
        os.chown(work_root, account.pw_uid, account.pw_gid)
    shared = Path(tempfile.mkdtemp(prefix="octopack-stack-"))
    secret_files = plant_secrets(home, shared, account.pw_uid if account else None)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "OCTOPACK_TEST_SECRET": SECRET,
        "OCTOPACK_EXECUTOR_PORT": str(port),
        "OCTOPACK_EXECUTOR_METRICS_PORT": str(metrics),
        "OCTOPACK_EXECUTOR_WORK_ROOT": str(work_root),
        **{f"OCTOPACK_EXECUTOR_{k.upper()}": v for k, v in settings.items()},
    }
    log_path = home / "server.log"
    if account is None:
        argv = [sys.executable, "-m", "octopack.services.executor"]
    else:
        # The test venv's interpreter may live where the user cannot reach (/root): run Debian's
        # python3 with the venv's packages, which are built for the same Python version.
        site = next((Path(sys.prefix) / "lib").glob("python3*/site-packages"))
        boot = f"import site, runpy; site.addsitedir({str(site)!r}); runpy.run_module('octopack.services.executor', run_name='__main__')"
        argv = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups", "/usr/bin/python3", "-c", boot]
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=log)
    server = ExecutorServer(
        f"127.0.0.1:{port}",
        metrics,
        proc.pid,
        secret_files,
        str(work_root),
        label=f"host-{user}" if user else "host-root",
        process=proc,
        internal_port=port,
    )
    for folder in (work_root, shared, *([home] if account else [])):
        server.cleanup.append(lambda folder=folder: shutil.rmtree(folder, ignore_errors=True))
    deadline = time.monotonic() + 90
    while not server.serving():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"executor did not start: {log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return server


def stop_executor(server: ExecutorServer) -> None:
    if server.process is not None:
        server.process.terminate()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    for step in server.cleanup:
        step()


def fix_code(problem: Problem, solution: str) -> str:
    """What the Fix task judges: prompt base (the declaration) + the solution."""
    base = RUST_MAIN + problem.declaration if problem.language == "rust" else problem.declaration
    return base + solution
