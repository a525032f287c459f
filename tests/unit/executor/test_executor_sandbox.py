"""The sandbox primitive, in each isolation mode this machine offers: limits, kills, caps, privacy."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from octopack.services.executor.cell import Job, Step
from octopack.services.executor.driver import landlock
from octopack.services.executor.isolation import LANDLOCK_MIN_ABI
from octopack.services.executor.model import StepOutcome
from octopack.services.executor.sandbox import Sandbox
from octopack.services.executor.settings import ExecutorSettings

# The interpreter the executor runs Python programs with.
PY = str(ExecutorSettings().python)
MODES = [
    "namespaces",
    pytest.param(
        "landlock",
        marks=pytest.mark.skipif(
            landlock.abi() < LANDLOCK_MIN_ABI, reason=f"needs Landlock ABI {LANDLOCK_MIN_ABI}"
        ),
    ),
]


@pytest.fixture(scope="module", params=MODES)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    box = Sandbox(ExecutorSettings(concurrency=1, isolation=request.param))
    assert box.isolation.mode == request.param
    yield box
    box.close()


def step(code: str, **kw: object) -> Step:
    args: dict[str, object] = {
        "argv": [PY, "-c", code],
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


async def run(box: Sandbox, *steps: Step, text: str = "", disk: int = 16 * 1024**2) -> list[StepOutcome]:
    return await box.run(0, Job("main.txt", text, list(steps), disk))


async def run1(box: Sandbox, code: str, **kw: object) -> StepOutcome:
    (out,) = await run(box, step(code, **kw))
    return out


def leftovers(marker: str) -> list[str]:
    """Processes anywhere on this machine whose command line holds ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z" and "pytest" not in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


async def test_exit_code_output_and_exact_signals(sandbox: Sandbox) -> None:
    out = await run1(sandbox, "import sys; print('hi'); print('err', file=sys.stderr); sys.exit(3)")
    assert (out.exit_code, out.stdout, out.stderr) == (3, "hi\n", "err\n")
    assert not out.timed_out and not out.output_exceeded and not out.error
    crashed = await run1(sandbox, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert crashed.exit_code == -11


async def test_program_file_and_steps_in_order(sandbox: Sandbox) -> None:
    build = step("import shutil; shutil.copy('main.txt', 'built.txt')")
    use = step("print(open('built.txt').read())")
    outs = await run(sandbox, build, use, text="the program")
    assert [o.exit_code for o in outs] == [0, 0]
    assert outs[1].stdout == "the program\n"
    stopped = await run(sandbox, step("raise SystemExit(2)"), use)
    assert len(stopped) == 1 and stopped[0].exit_code == 2


async def test_environment_is_exactly_what_is_passed(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOPACK_UNIT_SECRET", "s3cr3t")
    code = "import os; print(sorted(os.environ.items()))"
    out = await run1(sandbox, code, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    assert "s3cr3t" not in out.stdout and "OCTOPACK_UNIT_SECRET" not in out.stdout
    assert "('LANG', 'C.UTF-8')" in out.stdout


async def test_wall_clock_kills_every_process_of_the_program(sandbox: Sandbox) -> None:
    code = "import subprocess, time, os\nsubprocess.Popen(['sleep', '3011'], start_new_session=True)\ntime.sleep(300)\n"
    out = await run1(sandbox, code, timeout=1.5)
    assert out.timed_out and out.exit_code == -9
    assert leftovers("sleep 3011") == []


async def test_background_processes_die_with_their_step(sandbox: Sandbox) -> None:
    code = "import os\nif os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '3012'])\n"
    out = await run1(sandbox, code)
    assert out.exit_code == 0
    assert leftovers("sleep 3012") == []


async def test_output_cap_truncates_and_kills(sandbox: Sandbox) -> None:
    out = await run1(
        sandbox, "import sys\nwhile True:\n    sys.stdout.write('x' * 4096)\n", max_output_bytes=10_000
    )
    assert out.output_exceeded and out.stdout_truncated
    assert len(out.stdout) == 10_000
    assert out.exit_code == -9


async def test_address_space_limit(sandbox: Sandbox) -> None:
    out = await run1(sandbox, "x = bytearray(1024 * 1024 * 1024)", memory_bytes=256 * 1024**2)
    assert out.exit_code == 1 and "MemoryError" in out.stderr


async def test_file_size_and_open_files_limits(sandbox: Sandbox) -> None:
    code = "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\nopen('big', 'wb').write(b'x' * 200_000)"
    out = await run1(sandbox, code, max_file_bytes=100_000)
    assert out.exit_code == 1 and "File too large" in out.stderr
    out = await run1(sandbox, "fs = [open('/dev/null') for _ in range(100)]", max_open_files=32)
    assert "Too many open files" in out.stderr


async def test_cpu_limit(sandbox: Sandbox) -> None:
    out = await run1(sandbox, "while True: pass", cpu_seconds=1, timeout=30)
    assert out.signal in (24, 9)  # SIGXCPU at the soft limit, SIGKILL at the hard one
    assert not out.timed_out


async def test_process_limit_counts_only_the_program(sandbox: Sandbox) -> None:
    code = (
        "import subprocess\nps = []\n"
        "try:\n    for _ in range(50): ps.append(subprocess.Popen(['sleep', '30']))\n"
        "except OSError as e:\n    print('limited', len(ps))\nelse:\n    print('unlimited')\n"
    )
    # The program itself is one of its 8 processes: 7 children fit, an 8th may, no more. Without a
    # user namespace (landlock) the kernel counts every task of the uid, so others may add room.
    out = await run1(sandbox, code, max_processes=8)
    assert out.stdout.startswith("limited"), out
    started = int(out.stdout.split()[1])
    assert started in (7, 8) if sandbox.isolation.namespaces else started >= 7, out
    enough = await run1(sandbox, code.replace("range(50)", "range(7)"), max_processes=8)
    assert enough.stdout == "unlimited\n", enough


async def test_work_directory_is_fresh_and_size_limited(sandbox: Sandbox) -> None:
    wrote = await run1(sandbox, "open('mine', 'w').write('x'); import os; print(os.getcwd())")
    assert wrote.stdout.strip() == sandbox.work_dir(0)
    again = await run1(sandbox, "import os; print(sorted(os.listdir('.')))")
    assert again.stdout == "['main.txt']\n"
    fill = step("f = open('big', 'wb')\nwhile True: f.write(b'x' * 65536)", max_file_bytes=8 * 1024**2)
    (full,) = await run(sandbox, fill, disk=4 * 1024**2)
    assert full.exit_code == 1
    if sandbox.isolation.disk_limited:
        assert "No space left" in full.stderr and full.disk_full, full
    else:  # landlock without a volume of its own: only the file-size cap holds
        assert "File too large" in full.stderr and not full.disk_full, full


@pytest.mark.skipif(
    os.geteuid() != 0 or landlock.abi() < LANDLOCK_MIN_ABI, reason="mounts a tmpfs; needs Landlock"
)
async def test_landlock_slot_volume_is_the_disk_limit(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="octopack-volume-"))
    (root / "slot-0").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root / "slot-0")], check=True)
    try:
        box = Sandbox(ExecutorSettings(concurrency=1, isolation="landlock", work_root=root))
        try:
            assert box.isolation.disk_limited
            fill = step(
                "f = open('big', 'wb')\nwhile True: f.write(b'x' * 65536)", max_file_bytes=64 * 1024**2
            )
            (full,) = await run(box, fill)
            assert full.exit_code == 1 and "No space left" in full.stderr and full.disk_full, full
        finally:
            box.close()
    finally:
        subprocess.run(["umount", str(root / "slot-0")], check=True)
        shutil.rmtree(root)


async def test_temporary_folders_are_private(sandbox: Sandbox) -> None:
    code = (
        "import os\nfor d in ('/tmp', '/var/tmp', '/dev/shm'):\n"
        "    try:\n        open(d + '/left-over', 'w').write('x'); print(d, 'wrote')\n"
        "    except OSError as e:\n        print(d, 'denied')\n"
    )
    first = await run1(sandbox, code)
    second = await run1(
        sandbox,
        "import os\nprint([os.path.exists(d + '/left-over') for d in ('/tmp', '/var/tmp', '/dev/shm')])",
    )
    assert second.stdout == "[False, False, False]\n"
    expected = "wrote" if sandbox.isolation.namespaces else "denied"
    assert first.stdout.split()[1::2] == [expected] * 3, first


async def test_system_is_read_only_and_server_files_are_invisible(sandbox: Sandbox) -> None:
    # World-readable, next to the slots' own files: still out of reach.
    secret = sandbox.root / "secret.txt"
    secret.write_text("server secret")
    secret.chmod(0o644)
    code = (
        f"import os\ntry:\n    print(open({str(secret)!r}).read())\nexcept OSError as e:\n    print('hidden', type(e).__name__)\n"
        "try:\n    open('/usr/pwned', 'w')\nexcept OSError as e:\n    print('read-only', type(e).__name__)\n"
    )
    out = await run1(sandbox, code)
    assert "server secret" not in out.stdout
    assert "hidden" in out.stdout and "read-only" in out.stdout


async def test_network_namespace_has_no_route(sandbox: Sandbox) -> None:
    code = "import socket\ns = socket.socket()\ns.settimeout(3)\ns.connect(('1.1.1.1', 53))"
    out = await run1(sandbox, code)
    assert out.exit_code == 1
    reason = "unreachable" if sandbox.isolation.network_namespace else "permission denied"
    assert reason in out.stderr.lower(), out


@pytest.mark.skipif(landlock.abi() < LANDLOCK_MIN_ABI, reason=f"needs Landlock ABI {LANDLOCK_MIN_ABI}")
def test_auto_says_why_it_falls_back(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """``auto`` without bubblewrap runs in landlock mode and logs, as a warning, why namespaces were not had."""
    import octopack.services.executor.sandbox as sandbox_module

    real = shutil.which
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None if name == "bwrap" else real(name))
    with caplog.at_level("INFO", logger=sandbox_module.__name__):
        box = Sandbox(ExecutorSettings(concurrency=1, isolation="auto"))
    try:
        assert box.isolation.mode == "landlock"
        assert box.fallbacks == [
            "bubblewrap is not installed (apt-get install bubblewrap; scripts/install_toolchains.sh does)"
        ]
        (record,) = [r for r in caplog.records if r.getMessage().startswith("executor sandbox:")]
        assert record.levelname == "WARNING" and "because bubblewrap is not installed" in record.getMessage()
    finally:
        box.close()


def test_auto_with_the_strongest_mode_logs_no_fallback(caplog: pytest.LogCaptureFixture) -> None:
    import octopack.services.executor.sandbox as sandbox_module

    with caplog.at_level("INFO", logger=sandbox_module.__name__):
        box = Sandbox(ExecutorSettings(concurrency=1, isolation="auto"))
    try:
        assert box.isolation.mode == "namespaces" and box.fallbacks == []
        (record,) = [r for r in caplog.records if r.getMessage().startswith("executor sandbox:")]
        assert record.levelname == "INFO"
    finally:
        box.close()


async def test_a_missing_command_is_a_sandbox_error(sandbox: Sandbox) -> None:
    (out,) = await run(sandbox, step("", argv=["/no/such/compiler", "x"]))
    assert out.error and "could not start" in out.error
