"""Hostile programs in every language are contained, get the right status, and the server lives on."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from octopack.executor.v1 import executor_pb2
from tests.integration.executor.executor_server import SECRET, ExecutorServer
from tests.integration.executor.hostile import LANGUAGES, program

pytestmark = pytest.mark.integration

S = executor_pb2
MiB = 1024 * 1024
#: Java needs room for its heap beyond the JVM's own reservations.
MEMORY = {"java": 2560 * MiB}
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="uid isolation needs the server to run as root")


@pytest.fixture(scope="module")
def outside() -> Iterator[Path]:
    """A directory outside any work directory, owned by root and not writable by others."""
    with tempfile.TemporaryDirectory(prefix="octopack-outside-") as path:
        os.chmod(path, 0o755)
        yield Path(path)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback TCP server that no program should reach."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def run(server: ExecutorServer, language: str, source: str, **limits: float) -> executor_pb2.Result:
    request = S.ExecuteRequest(
        program=S.Program(
            language=LANGUAGES[language],  # type: ignore[arg-type]
            source=source,
            id=f"hostile-{language}",
            limits=S.Limits(**limits),
        )
    )
    return server.stub().Execute(request, timeout=180).result


def leftover_processes(server: ExecutorServer) -> list[str]:
    """Processes still running as one of the server's sandbox uids."""
    caps = server.stub().GetCapabilities(S.GetCapabilitiesRequest())
    uids = range(caps.sandbox_uid, caps.sandbox_uid + 1 + caps.max_concurrency)
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid = int(fields["Uid"].split()[0])
        # A zombie is dead already; its parent (init, for an orphan) reaps it.
        if uid in uids and not fields["State"].strip().startswith("Z"):
            found.append(f"{pid} uid={uid}")
    return found


def contained(server: ExecutorServer) -> None:
    assert server.serving(), "the executor died"
    if os.geteuid() == 0:
        assert leftover_processes(server) == []


LANGS = list(LANGUAGES)


@pytest.mark.parametrize("language", LANGS)
def test_fork_bomb(executor: ExecutorServer, language: str) -> None:
    result = run(executor, language, program(language, "fork_bomb"), timeout_seconds=3, max_processes=32)
    # It spins until the wall clock, or its runtime gives up when it cannot start a thread (JVM).
    assert result.status in (S.STATUS_TIMEOUT, S.STATUS_RUNTIME_ERROR), result
    contained(executor)


@pytest.mark.parametrize("language", LANGS)
def test_memory_bomb(executor: ExecutorServer, language: str) -> None:
    memory = MEMORY.get(language, 1024 * MiB)
    result = run(
        executor, language, program(language, "memory_bomb"), timeout_seconds=20, memory_bytes=memory
    )
    assert result.status == S.STATUS_MEMORY_LIMIT, result
    contained(executor)


@pytest.mark.parametrize("language", LANGS)
def test_infinite_loop(executor: ExecutorServer, language: str) -> None:
    result = run(executor, language, program(language, "infinite_loop"), timeout_seconds=2)
    assert result.status == S.STATUS_TIMEOUT, result
    assert result.exit_code == -9
    contained(executor)


@pytest.mark.parametrize("language", LANGS)
def test_unbounded_output(executor: ExecutorServer, language: str) -> None:
    cap = 64 * 1024
    result = run(
        executor, language, program(language, "output_flood"), timeout_seconds=10, max_output_bytes=cap
    )
    assert result.status == S.STATUS_OUTPUT_LIMIT, result
    assert result.stdout_truncated
    assert len(result.stdout.encode()) <= cap
    contained(executor)


@pytest.mark.parametrize("language", LANGS)
def test_sleep_past_timeout(executor: ExecutorServer, language: str) -> None:
    result = run(executor, language, program(language, "sleep"), timeout_seconds=2)
    assert result.status == S.STATUS_TIMEOUT, result
    assert result.run_seconds < 30
    contained(executor)


@ROOT_ONLY
@pytest.mark.parametrize("language", LANGS)
def test_write_outside_workdir(executor: ExecutorServer, outside: Path, language: str) -> None:
    target = outside / f"pwned-{language}"
    result = run(executor, language, program(language, "write_outside", target=target))
    assert result.status in (S.STATUS_FAILED, S.STATUS_RUNTIME_ERROR), result
    assert not target.exists()
    contained(executor)


@pytest.mark.parametrize("language", LANGS)
def test_network_is_unreachable(executor: ExecutorServer, listener: socket.socket, language: str) -> None:
    caps = executor.stub().GetCapabilities(S.GetCapabilitiesRequest())
    if not caps.network_isolated:
        pytest.skip("this platform gives the executor no network namespace")
    port = listener.getsockname()[1]
    result = run(executor, language, program(language, "network", port=port), timeout_seconds=10)
    assert result.status in (S.STATUS_FAILED, S.STATUS_RUNTIME_ERROR), result
    with pytest.raises(BlockingIOError):
        listener.accept()
    contained(executor)


@ROOT_ONLY
@pytest.mark.parametrize("language", LANGS)
def test_kill_parent(executor: ExecutorServer, language: str) -> None:
    result = run(executor, language, program(language, "kill_parent"))
    # Whatever the signal reaches (nothing of the server's: another uid, another PID namespace),
    # the verdict is the program's own.
    assert result.status != S.STATUS_SANDBOX_ERROR, result
    contained(executor)
    again = run(executor, "python", "print('still here')")
    assert again.status == S.STATUS_PASSED and again.stdout == "still here\n"


@ROOT_ONLY
@pytest.mark.parametrize("language", LANGS)
def test_environment_secrets_stay_hidden(executor: ExecutorServer, language: str) -> None:
    result = run(executor, language, program(language, "read_secrets"))
    assert result.status != S.STATUS_SANDBOX_ERROR, result
    seen = result.stdout + result.stderr
    assert "PATH=" in seen or "'PATH'" in seen or '"PATH"' in seen  # it did print its environment
    assert SECRET not in seen
    assert "AWS_SECRET_ACCESS_KEY" not in seen
    contained(executor)
