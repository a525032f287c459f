"""Blocks of sandbox uids, one per executor on a host."""

from __future__ import annotations

import fcntl
import tempfile
from pathlib import Path
from typing import IO

from octopack.common.errors import FailedPrecondition

UID_BLOCK = 1000
UID_BASES = range(61000, 61000 + 8 * UID_BLOCK, UID_BLOCK)


def claim_uids(wanted: int | None, concurrency: int) -> tuple[IO[bytes], int]:
    """Lock a block of sandbox uids for this server's lifetime (the lock dies with the process).

    Every process of a run uid is killed after each program, so two servers on one host must
    never share uids.
    """
    if concurrency + 1 > UID_BLOCK:
        raise FailedPrecondition(f"concurrency {concurrency} needs more than {UID_BLOCK} sandbox uids")
    for base in [wanted] if wanted else UID_BASES:
        lock = Path(tempfile.gettempdir()) / f"octopack-executor-uids-{base}.lock"
        handle = lock.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return handle, base
    where = f"uid {wanted}" if wanted else f"uids {UID_BASES[0]}-{UID_BASES[-1] + UID_BLOCK - 1}"
    raise FailedPrecondition(
        f"sandbox {where} are taken by other executors on this host; set OCTOPACK_EXECUTOR_SANDBOX_UID "
        "to a free block"
    )
