"""The sandbox primitive: limits, process-group kill, output caps, scrubbed environment."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from octopack.services.executor.sandbox import Sandbox, Step
from octopack.services.executor.settings import ExecutorSettings

# The interpreter the executor runs Python programs with (readable by the sandbox uids).
PY = str(ExecutorSettings().python)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox("auto")


def step(tmp_path: Path, code: str, **kw: object) -> Step:
    args: dict[str, object] = {
        "argv": [PY, "-c", code],
        "cwd": tmp_path,
        "env": {"PATH": "/usr/bin:/bin"},
        "timeout": 10.0,
        "cpu_seconds": 20.0,
        "memory_bytes": 2 * 1024**3,
        "max_processes": 64,
        "max_file_bytes": 1024 * 1024,
        "max_open_files": 64,
        "max_output_bytes": 64 * 1024,
    }
    args.update(kw)
    return Step(**args)  # type: ignore[arg-type]


async def test_exit_code_and_output(sandbox: Sandbox, tmp_path: Path) -> None:
    out = await sandbox.run(
        step(tmp_path, "import sys; print('hi'); print('err', file=sys.stderr); sys.exit(3)")
    )
    assert (out.exit_code, out.stdout, out.stderr) == (3, "hi\n", "err\n")
    assert not out.timed_out and not out.output_exceeded


async def test_environment_is_exactly_what_is_passed(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOPACK_UNIT_SECRET", "s3cr3t")
    code = "import os; print(sorted(os.environ.items()))"
    out = await sandbox.run(step(tmp_path, code, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}))
    assert "s3cr3t" not in out.stdout
    assert "OCTOPACK_UNIT_SECRET" not in out.stdout
    assert "('LANG', 'C.UTF-8')" in out.stdout


async def test_wall_clock_kills_the_whole_group(sandbox: Sandbox, tmp_path: Path) -> None:
    # The child writes its pid, then both parent and child sleep far past the timeout.
    code = (
        "import subprocess, time, pathlib\n"
        "p = subprocess.Popen(['sleep', '300'])\n"
        "pathlib.Path('child.pid').write_text(str(p.pid))\n"
        "time.sleep(300)\n"
    )
    start = time.monotonic()
    out = await sandbox.run(step(tmp_path, code, timeout=1.5))
    assert out.timed_out
    assert out.exit_code == -9
    assert time.monotonic() - start < 60
    child = int((tmp_path / "child.pid").read_text())
    assert not _alive(child)


async def test_output_cap_truncates_and_kills(sandbox: Sandbox, tmp_path: Path) -> None:
    code = "import sys\nwhile True:\n    sys.stdout.write('x' * 4096)\n"
    out = await sandbox.run(step(tmp_path, code, max_output_bytes=10_000))
    assert out.output_exceeded and out.stdout_truncated
    assert len(out.stdout) == 10_000
    assert out.exit_code == -9


async def test_address_space_limit(sandbox: Sandbox, tmp_path: Path) -> None:
    code = "x = bytearray(1024 * 1024 * 1024)"
    out = await sandbox.run(step(tmp_path, code, memory_bytes=256 * 1024**2))
    assert out.exit_code == 1
    assert "MemoryError" in out.stderr


async def test_file_size_limit(sandbox: Sandbox, tmp_path: Path) -> None:
    code = "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\nopen('big', 'wb').write(b'x' * 200_000)"
    out = await sandbox.run(step(tmp_path, code, max_file_bytes=100_000))
    assert out.exit_code == 1
    assert "File too large" in out.stderr


async def test_open_files_limit(sandbox: Sandbox, tmp_path: Path) -> None:
    code = "fs = [open('/dev/null') for _ in range(100)]"
    out = await sandbox.run(step(tmp_path, code, max_open_files=32))
    assert "Too many open files" in out.stderr


async def test_cpu_limit(sandbox: Sandbox, tmp_path: Path) -> None:
    out = await sandbox.run(step(tmp_path, "while True: pass", cpu_seconds=1, timeout=30))
    assert out.signal in (24, 9)  # SIGXCPU at the soft limit, SIGKILL at the hard one
    assert not out.timed_out


@pytest.mark.skipif(os.geteuid() != 0, reason="RLIMIT_NPROC only binds an unprivileged uid")
async def test_process_limit(sandbox: Sandbox, tmp_path: Path) -> None:
    code = (
        "import subprocess\nps = []\n"
        "try:\n    for _ in range(50): ps.append(subprocess.Popen(['sleep', '30']))\n"
        "except OSError as e:\n    print('limited', len(ps))\n"
    )
    tmp_path.chmod(0o777)
    out = await sandbox.run(step(tmp_path, code, max_processes=8, uid=61990, gid=61990, sweep=True))
    assert out.stdout.startswith("limited")
    assert int(out.stdout.split()[1]) < 8


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop needs root")
async def test_unprivileged_uid_cannot_write_outside(sandbox: Sandbox, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    work = sandbox.make_workdir(tmp_path, "work", 61991, 61990)
    code = f"open({str(outside / 'x')!r}, 'w').write('x')"
    out = await sandbox.run(step(work, code, uid=61991, gid=61990))
    assert "Permission denied" in out.stderr
    assert not (outside / "x").exists()
    ok = await sandbox.run(step(work, "open('inside', 'w').write('x')", uid=61991, gid=61990))
    assert ok.exit_code == 0 and (work / "inside").exists()
    Sandbox.remove_workdir(work)
    assert not work.exists()


async def test_network_namespace_has_no_route(sandbox: Sandbox, tmp_path: Path) -> None:
    if not sandbox.network_isolated:
        pytest.skip("no network namespace on this platform")
    code = "import socket\ns = socket.socket()\ns.settimeout(3)\ns.connect(('1.1.1.1', 53))"
    out = await sandbox.run(step(tmp_path, code))
    assert out.exit_code == 1
    assert "unreachable" in out.stderr.lower()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
