"""The one sandbox every language runs through: one supervised slot per concurrent program.

At start the sandbox probes the platform (``OCTOPACK_EXECUTOR_ISOLATION``, see ``isolation.py``)
and starts one slot per unit of concurrency, each a long-lived supervisor
(``driver/supervisor.py``):

- namespaces mode: ``bwrap`` (bubblewrap, what Flatpak builds its sandboxes with) makes the slot's
  user, PID, network, IPC and UTS namespaces, a root of read-only binds (/usr, /etc, the
  toolchains) with none of the server's files, and a seccomp filter against keyrings; the
  supervisor inside runs programs one after another and leaves nothing of one for the next.
  Making a bubblewrap sandbox costs about 3.5 ms of CPU and fresh namespaces per program as much
  again (a tenth of a Node start), so it is made once per slot, not per program.
- landlock mode: the supervisor runs as it is and confines each step with Landlock.

As root, slots run as the unprivileged ``sandbox_uid`` (``setpriv``); otherwise as the server's
own uid, in their own user namespace.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from octopack.common.errors import FailedPrecondition
from octopack.services.executor import driver
from octopack.services.executor.cell import Cell, Job, SandboxUnavailable
from octopack.services.executor.driver import landlock, seccomp
from octopack.services.executor.isolation import LANDLOCK_MIN_ABI, Isolation
from octopack.services.executor.model import StepOutcome
from octopack.services.executor.settings import ExecutorSettings

log = logging.getLogger(__name__)

#: The program's uid inside its user namespace (namespaces mode).
INSIDE_UID = 1000
#: Top-level system folders: bound read-only, or re-created as the links they are (merged /usr).
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DRIVER_FILES = ("supervisor.py", "process.py", "namespaces.py", "confined.py", "landlock.py", "seccomp.py", "javac.py")
PR_SET_DUMPABLE = 4
NO_USERNS_HINT = (
    "this node does not let an unprivileged process create user namespaces (a seccomp profile "
    "such as containerd's RuntimeDefault blocks unshare without CAP_SYS_ADMIN, or "
    "user.max_user_namespaces / kernel.unprivileged_userns_clone is 0)"
)


class Sandbox:
    """Runs :class:`Job` s in per-slot sandboxes. Construct once per server (it probes and starts them)."""

    def __init__(self, settings: ExecutorSettings, javac: list[str] | None = None) -> None:
        self.settings = settings
        #: The warm javac's command line (every slot starts one), or empty.
        self.javac = javac or []
        self.is_root = os.geteuid() == 0
        self.uid = settings.sandbox_uid if self.is_root else None
        self._own_root = settings.work_root is None
        self.root: Path = (
            Path(tempfile.mkdtemp(prefix="octopack-exec-"))
            if settings.work_root is None
            else settings.work_root
        )
        self.root.mkdir(parents=True, exist_ok=True)
        if self.root.stat().st_uid == os.geteuid():
            # The slots' uid must traverse it; a root we do not own (a pod's emptyDir, mode 1777)
            # is the platform's to set, and _check_reachable says when it does not do.
            self.root.chmod(0o755)
        self._check_reachable()
        self._install_driver()
        #: Why a stronger mode than the one in use could not be had (empty when ``auto`` got the strongest).
        self.fallbacks: list[str]
        self.isolation, first, self.fallbacks = self._probe()
        self.cells = [first] + [self._cell(slot, self.isolation) for slot in range(1, settings.concurrency)]
        for cell in self.cells[1:]:
            cell.start()
        if self.isolation.mode == "landlock" or self.isolation.proc == "host":
            # Programs can see this process in /proc: make its /proc files (environ, fd, mem) root's.
            ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        if self.fallbacks:
            log.warning(
                "executor sandbox: %s, because %s", self.isolation.describe(), "; ".join(self.fallbacks)
            )
        else:
            log.info("executor sandbox: %s", self.isolation.describe())

    # ---- what programs see --------------------------------------------------------------------
    def work_dir(self, slot: int) -> str:
        """The program's working directory (and HOME) as the program sees it."""
        return "/work" if self.isolation.namespaces else str(self.root / f"slot-{slot}" / "w")

    def tmp_dir(self, slot: int) -> str:
        return "/tmp" if self.isolation.namespaces else self.work_dir(slot)

    def _read_only(self) -> list[str]:
        paths = ["/usr", "/etc", str(self.settings.toolchains), *map(str, self.settings.sandbox_paths)]
        python = Path(os.path.realpath(self.settings.python))
        if not any(python.is_relative_to(p) for p in paths):
            paths.append(str(python.parent.parent))
        return [p for p in dict.fromkeys(paths) if os.path.exists(p)]

    # ---- slots ----------------------------------------------------------------------------------
    def _check_reachable(self) -> None:
        """The sandbox uid must be able to traverse every folder above the work root."""
        if self.uid is None:
            return
        for folder in [self.root, *self.root.parents]:
            if not folder.stat().st_mode & 0o001:
                raise FailedPrecondition(
                    f"work root {self.root}: {folder} is not searchable by other users, so the sandbox uid "
                    f"{self.uid} cannot reach the slots' files; choose another OCTOPACK_EXECUTOR_WORK_ROOT"
                )

    def _install_driver(self) -> None:
        """A copy of the supervisor the sandbox uid can read (the checkout may be private)."""
        target = self.root / "driver"
        target.mkdir(exist_ok=True)
        target.chmod(0o755)
        source = Path(driver.__file__).parent
        for name in DRIVER_FILES:
            shutil.copyfile(source / name, target / name)
            (target / name).chmod(0o644)

    def _prefix(self) -> list[str]:
        if self.uid is None:
            return []
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--"]

    def _cell(self, slot: int, isolation: Isolation) -> Cell:
        python = [str(self.settings.python), "-E", "-s", "-S", "-B"]
        logfile = self.root / f"slot-{slot}.log"
        if isolation.namespaces:
            config: dict[str, Any] = {"mode": "namespaces", "proc": isolation.proc, "javac": self.javac}
            argv = [*self._prefix(), *self._bwrap(isolation), *python, "/.octopack/supervisor.py"]
            return Cell(argv, config, logfile, seccomp.program_bytes() if seccomp.supported() else None)
        work = self.root / f"slot-{slot}"
        work.mkdir(mode=0o700, exist_ok=True)
        if self.uid is not None:
            os.chown(work, self.uid, self.uid)
        config = {
            "mode": "landlock",
            "work": str(work),
            "landlock": isolation.landlock_abi,
            "read_only": [*self._read_only(), "/proc"] + [p for p in SYSTEM_LINKS if os.path.exists(p)],
            "javac": self.javac,
        }
        return Cell([*self._prefix(), *python, str(self.root / "driver" / "supervisor.py")], config, logfile)

    def _bwrap(self, isolation: Isolation) -> list[str]:
        argv = [
            "bwrap",
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
        if isolation.network_namespace:
            argv.append("--unshare-net")
        argv += ["--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID), "--cap-add", "CAP_SYS_ADMIN"]
        argv += ["--die-with-parent", "--new-session"]
        for path in self._read_only():
            argv += ["--ro-bind", path, path]
        for path in SYSTEM_LINKS:
            if os.path.islink(path):
                argv += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                argv += ["--ro-bind", path, path]
        argv += ["--ro-bind", str(self.root / "driver"), "/.octopack"]
        argv += ["--proc", "/proc"] if isolation.proc == "mount" else ["--ro-bind", "/proc", "/proc"]
        for folder in ("/dev/mqueue", "/work", "/tmp", "/var/tmp", "/.scratch"):
            argv += ["--dir", folder] if folder != "/dev/mqueue" else ["--dev", "/dev", "--dir", folder]
        if seccomp.supported():
            argv += ["--seccomp", "{seccomp}"]  # Cell puts the filter's descriptor here
        argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/"]
        return argv

    def _probe(self) -> tuple[Isolation, Cell, list[str]]:
        """The strongest isolation the settings allow and the platform gives, with slot 0 started, and why
        each stronger one could not be had."""
        want, network = self.settings.isolation, self.settings.network
        reasons: list[str] = []
        if want in ("auto", "namespaces"):
            if shutil.which("bwrap") is None:
                reasons.append(
                    "bubblewrap is not installed (apt-get install bubblewrap; scripts/install_toolchains.sh does)"
                )
            else:
                for proc in ("mount", "host"):
                    isolation = Isolation("namespaces", proc, network != "off", sandbox_uid=self.uid)
                    cell = self._cell(0, isolation)
                    try:
                        cell.start()
                        return isolation, cell, reasons
                    except SandboxUnavailable as exc:
                        said = str(exc)
                        if proc == "mount" and "proc" in said:
                            reasons.append(
                                f"no /proc can be mounted ({said.splitlines()[-1]}): the container's /proc is masked"
                            )
                            continue
                        hint = f": {NO_USERNS_HINT}" if "namespace" in said or "uid map" in said else ""
                        reasons.append(f"bubblewrap failed ({said.splitlines()[-1]}){hint}")
                        break
        if want in ("auto", "landlock"):
            abi = landlock.abi()
            if network == "required":
                reasons.append(
                    "landlock mode has no network namespace but OCTOPACK_EXECUTOR_NETWORK=required"
                )
            elif abi < LANDLOCK_MIN_ABI:
                got = (
                    f"ABI {abi}"
                    if abi
                    else "no Landlock (not built, not in lsm=, or its syscalls are filtered)"
                )
                reasons.append(
                    f"landlock needs ABI {LANDLOCK_MIN_ABI} (Linux 6.12) for signal scoping; the kernel has {got}"
                )
            else:
                work = self.root / "slot-0"
                work.mkdir(mode=0o700, exist_ok=True)
                limited = os.stat(work).st_dev != os.stat(self.root).st_dev
                isolation = Isolation(
                    "landlock", landlock_abi=abi, sandbox_uid=self.uid, disk_limited=limited
                )
                cell = self._cell(0, isolation)
                try:
                    cell.start()
                    return isolation, cell, reasons
                except SandboxUnavailable as exc:
                    reasons.append(f"landlock failed: {str(exc).splitlines()[-1]}")
        self.close()
        raise FailedPrecondition(
            f"OCTOPACK_EXECUTOR_ISOLATION={want}: no sandbox can be built here: "
            + "; ".join(reasons)
            + ". See docs/executor.md (what each deployment needs) and charts/octopack/README.md"
        )

    # ---- running --------------------------------------------------------------------------------
    async def run(self, slot: int, job: Job) -> list[StepOutcome]:
        """Run one program in ``slot`` (one at a time per slot); never raises for its behaviour."""
        return await self.cells[slot].run(job)

    def close(self) -> None:
        """Stop every slot and remove the work root (if this sandbox made it)."""
        for cell in getattr(self, "cells", []):
            cell.close()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
