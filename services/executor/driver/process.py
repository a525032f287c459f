"""What both slot kinds share: system calls, limits, events, and ending a program's processes.

Standard library only (the slot supervisor imports it inside the sandbox).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import time
from collections.abc import Callable
from typing import Any

try:
    from .javac import Javac, JavacGone
except ImportError:  # run as a script inside the sandbox
    from javac import Javac, JavacGone  # type: ignore[import-not-found,no-redef]

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SCRATCH = "/.scratch"
#: Private writable places of a program in namespaces mode: (folder in the tmpfs, mount point, mode).
PLACES = (
    ("work", "/work", 0o755),
    ("tmp", "/tmp", 0o1777),
    ("vartmp", "/var/tmp", 0o1777),
    ("shm", "/dev/shm", 0o1777),
)
DEFAULT_DISK = 256 * 1024 * 1024
#: Tasks of the slot's uid RLIMIT_NPROC counts besides the program's own: in namespaces mode
#: bubblewrap's init and the supervisor's two processes (the count is per user namespace).
SLOT_TASKS = 3
#: How often a running step's orphans are reaped (they would count against RLIMIT_NPROC).
REAP_SECONDS = 0.05
LIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
}
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD, signal.SIGALRM)
IPC_TABLES = (("shm", "shmctl"), ("msg", "msgctl"), ("sem", "semctl"))
IPC_RMID = 0

LIBC = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option: int, value: int, arg: int = 0) -> None:
    check(LIBC.prctl(option, value, arg, 0, 0), f"prctl({option})")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    fs = fstype.encode() if fstype else None
    check(
        LIBC.mount(source.encode(), target.encode(), fs, flags, data.encode() if data else None),
        f"mount {target}",
    )


def limits(step: dict[str, Any], extra_tasks: int) -> dict[str, list[int]]:
    """The step's rlimits as [soft, hard], with the tasks RLIMIT_NPROC already counts added."""
    limits = {
        k: [int(x) for x in v] if isinstance(v, list) else [int(v), int(v)]
        for k, v in step["rlimits"].items()
    }
    if "nproc" in limits:
        limits["nproc"] = [n + extra_tasks for n in limits["nproc"]]
    for name, pair in limits.items():
        # Without CAP_SYS_RESOURCE no hard limit can be raised (a container's nproc ulimit): the
        # step gets at most what the slot has, rather than failing to start.
        _, ceiling = resource.getrlimit(LIMITS[name])
        if ceiling != resource.RLIM_INFINITY:
            limits[name] = [min(pair[0], ceiling), min(pair[1], ceiling)]
    return limits


def spawn(
    argv: list[str],
    env: dict[str, str],
    limits: dict[str, list[int]],
    stdio: tuple[int, int, int],
    confine: Callable[[], None] | None = None,
    search: bool = False,
) -> tuple[int, str]:
    """Start a step's process: its own session, default signals, ``stdio`` as fds 0-2, ``limits`` set
    (and ``confine()`` run) before the exec, so they hold from the program's first instruction.

    Returns the pid and, when the process could not become the program, why (the child then exits
    127; a close-on-exec pipe carries the reason and reads empty once the exec succeeded). ``search``:
    look ``argv[0]`` up in the environment's PATH.
    """
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            for sig in RESET_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            for target, fd in enumerate(stdio):
                os.dup2(fd, target)
            for name, (soft, hard) in limits.items():
                resource.setrlimit(LIMITS[name], (soft, hard))
            if confine is not None:
                confine()
            (os.execvpe if search else os.execve)(argv[0], argv, env)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(err_w, str(exc).encode()[:4000])
        os._exit(127)
    os.close(err_w)
    failure = b""
    while chunk := os.read(err_r, 4096):
        failure += chunk
    os.close(err_r)
    return pid, failure.decode("utf-8", "replace")


def event(index: int, status: int, seconds: float, timed_out: bool, work: str, error: str) -> dict[str, Any]:
    free = os.statvfs(work)
    return {
        "step": index,
        "status": status,
        "seconds": seconds,
        "timed_out": timed_out,
        "free": free.f_bavail * free.f_frsize,
        "error": error,
    }


def emit(fd: int, event: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(event) + "\n").encode())


def write_program(request: dict[str, Any], text_fd: int, work: str) -> None:
    filename = request.get("filename")
    if filename:
        size = os.fstat(text_fd).st_size
        with open(os.path.join(work, filename), "wb") as out:
            out.write(os.pread(text_fd, size, 0) if size else b"")
    os.close(text_fd)


def javac_step(
    javac: Javac, index: int, step: dict[str, Any], work: str, out_fd: int, err_fd: int
) -> dict[str, Any] | None:
    """A build step the warm javac does: the event, or None when the command line must do it
    (the compiler failed inside). Raises JavacGone when the compiler is stuck or dead."""
    tool = step["javac"]
    start = time.monotonic()
    with open(os.path.join(work, tool["file"]), encoding="utf-8", errors="surrogateescape") as handle:
        text = handle.read()
    try:
        status, diagnostics, classes = javac.compile(
            tool["options"], tool["file"], text, float(step["timeout"])
        )
    except JavacGone:
        os.close(out_fd)
        os.close(err_fd)
        raise
    if status == 2:
        return None
    for name, data in classes:
        with open(os.path.join(work, os.path.basename(name)), "wb") as out:
            out.write(data)
    with contextlib.suppress(OSError):
        os.write(
            err_fd, diagnostics.encode("utf-8", errors="replace")[: int(step.get("max_output", 1 << 20)) + 1]
        )
    os.close(out_fd)
    os.close(err_fd)
    return event(index, status << 8, time.monotonic() - start, False, work, "")


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def signal_all(pid_one: bool, keep: tuple[int, ...] = ()) -> bool:
    """SIGKILL every process of the program but the caller (PID 1 of the namespace, or a subreaper)."""
    if pid_one:
        # kill(-1) from PID 1 of a PID namespace reaches every process there but itself.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True
    targets = [c for c in children(os.getpid()) if c not in keep]
    for child in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    return bool(targets)


def reap_finished() -> tuple[list[tuple[int, int]], bool]:
    """(pid, wait status) of every child that has ended, and whether no child is left at all."""
    finished: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return finished, True
        if pid == 0:
            return finished, False
        finished.append((pid, status))


def kill_all(pid_one: bool, keep: tuple[int, ...] = ()) -> None:
    """Kill and reap until no process is left: a fork bomb keeps forking while the first kill runs,
    and orphans of killed processes come back to the caller (init or subreaper) to be killed next.
    ``keep``: children of a subreaper that are not the program's (the warm javac)."""
    while True:
        signalled = signal_all(pid_one, keep)
        finished, none_left = reap_finished()
        reaped = bool(finished)
        if none_left:
            return
        if not pid_one and not signalled and not reaped:
            return  # only the kept children are left
        if not reaped:
            time.sleep(0.0005 if signalled else 0.001)


def empty(folder: str, mode: int) -> None:
    """Remove everything in ``folder`` whatever its permissions, and restore the folder's mode."""
    os.chmod(folder, 0o700)
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            empty(entry.path, 0o700)
            os.rmdir(entry.path)
        else:
            os.unlink(entry.path)
    os.chmod(folder, mode)
