"""Seccomp filters for the sandbox: system calls whose state would outlive a program are refused.

Standard library only (the slot supervisor imports it inside the sandbox).

- Kernel keyrings (``add_key``, ``request_key``, ``keyctl``) belong to the uid and outlive the
  process; no namespace separates two programs of one slot, so they are refused in every mode
  (as Docker's and containerd's default profiles do). bubblewrap installs this filter on the slot
  (``--seccomp FD``).
- In landlock mode there is no IPC namespace either: a SysV shared-memory segment, semaphore set,
  message queue or POSIX mqueue would outlive its program, so creating one is refused too. (In
  namespaces mode the supervisor removes them between programs instead.)

x86-64 and arm64 only; elsewhere no filter is installed (the server reports it).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
LD_W_ABS, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
X32_BIT = 0x40000000
#: Per machine: audit arch, keyring calls, IPC-creating calls (shmget, semget, msgget, mq_open).
ARCHES = {
    "x86_64": (0xC000003E, (248, 249, 250), (29, 64, 68, 240)),
    "aarch64": (0xC00000B7, (217, 218, 219), (194, 190, 186, 180)),
}


class _Instruction(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Instruction))]


def supported() -> bool:
    return platform.machine() in ARCHES


def instructions(ipc: bool) -> list[tuple[int, int, int, int]]:
    """The classic-BPF program: EPERM for the keyring calls (and the IPC ones), allow the rest."""
    arch, keyrings, creators = ARCHES[platform.machine()]
    calls = [*keyrings, *(creators if ipc else ())]
    code = [
        (LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (JEQ_K, 1, 0, arch),
        (RET_K, 0, 0, RET_ALLOW),
        (LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        (JGE_K, len(calls) + 1, 0, X32_BIT),  # the x32 ABI: nothing here uses it
    ]
    for i, number in enumerate(calls):
        code.append((JEQ_K, len(calls) - i, 0, number))
    return [*code, (RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, RET_ERRNO | errno.EPERM)]


def program_bytes(ipc: bool = False) -> bytes:
    """The filter as bubblewrap's ``--seccomp FD`` reads it (struct sock_filter, native order)."""
    return b"".join(struct.pack("=HBBI", *ins) for ins in instructions(ipc))


def install(ipc: bool) -> None:
    """Install the filter on this process (inherited by everything it starts; irreversible)."""
    if not supported():
        return
    code = instructions(ipc)
    program = (_Instruction * len(code))(*[_Instruction(*c) for c in code])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    prog = _Program(len(code), program)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
