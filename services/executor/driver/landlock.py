"""Landlock (Linux 5.13+) through ctypes: the unprivileged sandbox used where no namespace can be made.

Standard library only: the slot supervisor imports this module inside the sandbox. A ruleset names
the file hierarchies a process may still read, write or execute; ABI 4 adds TCP bind/connect
(denied outright here), ABI 6 scopes signals and abstract unix sockets to the process's own
domain, so a program can signal neither the server nor its supervisor. Landlock also keeps a
sandboxed process from ptracing (or reading ``/proc/<pid>/environ`` of) anything outside its domain.
"""

from __future__ import annotations

import ctypes
import os
import platform

#: landlock_create_ruleset, landlock_add_rule, landlock_restrict_self (the same on every architecture).
SYS_CREATE, SYS_ADD_RULE, SYS_RESTRICT = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

#: File-system rights each ABI knows (a ruleset may only handle those).
FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
READ = EXECUTE | READ_FILE | READ_DIR
#: Devices a program may open for writing (/dev/null and friends).
DEVICE = READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _call(number: int, *args: object) -> int:
    result = int(_libc.syscall(number, *args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing, disabled or filtered."""
    if platform.system() != "Linux":
        return 0
    try:
        return _call(SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    except OSError:
        return 0


def fs_rights(version: int) -> int:
    return FS_RIGHTS[max(k for k in FS_RIGHTS if k <= version)]


class Ruleset:
    """An open ruleset: ``allow`` hierarchies, then ``restrict`` the calling process (after fork)."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.handled = fs_rights(version)
        net = NET_BIND_TCP | NET_CONNECT_TCP if version >= 4 else 0
        scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if version >= 6 else 0
        attr = _RulesetAttr(self.handled, net, scoped)
        size = ctypes.sizeof(_RulesetAttr) if version >= 6 else (16 if version >= 4 else 8)
        self.fd = _call(SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))

    def allow(self, path: str, rights: int) -> None:
        """Let the sandbox use ``rights`` beneath ``path`` (a missing path is skipped)."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if not os.path.isdir(path):
                # Directory-only rights cannot be granted on a file.
                rights &= READ_FILE | WRITE_FILE | EXECUTE | TRUNCATE | IOCTL_DEV
            rule = _PathBeneath(rights & self.handled, fd)
            _call(SYS_ADD_RULE, ctypes.c_int(self.fd), ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule), 0)
        finally:
            os.close(fd)

    def restrict(self) -> None:
        """Enforce the ruleset on this process and everything it starts (irreversible)."""
        if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        _call(SYS_RESTRICT, ctypes.c_int(self.fd), ctypes.c_uint32(0))
        os.close(self.fd)
