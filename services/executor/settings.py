"""Configuration of the executor service (``OCTOPACK_EXECUTOR_*``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from octopack.common.catalog import SERVICES
from octopack.common.settings import ServerSettings


class ExecutorSettings(ServerSettings):
    """How the executor listens, how much it runs at once and where its toolchains live."""

    model_config = SettingsConfigDict(env_prefix=SERVICES["executor"].prefix, extra="ignore")

    port: int = Field(SERVICES["executor"].port, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    concurrency: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, le=256, description="Programs run at once."
    )
    language: str = Field(
        "",
        description="Serve only this language (one pod per language: python, js, java, go, cpp, rust); "
        "empty serves every language whose toolchain is installed.",
    )
    max_queue: int = Field(
        256, ge=0, description="Programs that may wait for a slot; beyond that RESOURCE_EXHAUSTED."
    )
    max_batch: int = Field(1024, ge=1, description="Most programs in one ExecuteBatch request.")
    max_source_bytes: int = Field(
        1024 * 1024, ge=1, description="Cap on each of a program's source and test (UTF-8 bytes)."
    )
    toolchains: Path = Field(
        Path("/opt/octopack"), description="Root written by scripts/install_toolchains.sh."
    )
    python: Path = Field(
        Path("/usr/bin/python3"), description="Interpreter for Python programs (needs numpy)."
    )
    work_root: Path | None = Field(
        None, description="Where per-program work directories are made; default a fresh temp dir."
    )
    sandbox_uid: int = Field(
        60900,
        ge=1,
        description="When run as root: the unprivileged host uid the slot sandboxes run as (each "
        "program still gets its own user namespace, so servers on one host may share it).",
    )
    isolation: Literal["auto", "namespaces", "landlock"] = Field(
        "auto",
        description="How programs are kept apart: 'namespaces' (bubblewrap slots, a mount+PID+IPC "
        "namespace and tmpfs per program; needs unprivileged user namespaces), 'landlock' (Landlock "
        "ABI 6 rulesets where no namespace can be made), 'auto' the first that works. A mode that "
        "cannot be had refuses to start (FAILED_PRECONDITION, saying what the platform lacks).",
    )
    network: Literal["auto", "required", "off"] = Field(
        "auto",
        description="Network isolation (a network namespace per slot): 'auto' uses it when the "
        "platform allows, 'required' refuses to start without it, 'off' shares the host's network.",
    )
    sandbox_paths: list[Path] = Field(
        default_factory=list,
        description="Extra paths programs may read and execute (besides /usr, /etc, the toolchains "
        "and the Python interpreter), e.g. a toolchain installed under /opt.",
    )
