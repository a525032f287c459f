"""Runs programs: validation, admission (bounded queue), slots, work directories, verdicts."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import fields

from octopack.common.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from octopack.services.executor.cell import Job, Step
from octopack.services.executor.metrics import QUEUE_DEPTH, RESULTS, RUNNING
from octopack.services.executor.model import ExecutionResult, Limits, ProgramSpec
from octopack.services.executor.runners import RUNNERS, Runner, Toolchains
from octopack.services.executor.runners.java import JavaRunner
from octopack.services.executor.sandbox import Sandbox
from octopack.services.executor.settings import ExecutorSettings
from octopack.services.executor.verdict import compile_failure, result_of, run_verdict

log = logging.getLogger(__name__)

#: Upper bounds a request may ask for (zero keeps the language default).
MAX_LIMITS = Limits(
    timeout_seconds=600,
    compile_timeout_seconds=600,
    cpu_seconds=1200,
    memory_bytes=16 * 1024**3,
    max_processes=4096,
    max_file_bytes=1024**3,
    max_open_files=65536,
    max_output_bytes=64 * 1024**2,
    max_disk_bytes=8 * 1024**3,
)
COMPILE_PROCESSES = 4096
COMPILE_MEMORY = 8 * 1024**3


class Executor:
    """The executor's domain: no gRPC here. One instance per server (it owns a work root)."""

    def __init__(self, settings: ExecutorSettings) -> None:
        self.settings = settings
        self.tools = Toolchains(settings.toolchains, settings.python)
        if settings.language and settings.language not in RUNNERS:
            raise FailedPrecondition(
                f"OCTOPACK_EXECUTOR_LANGUAGE={settings.language!r} is not a language; use one of "
                f"{', '.join(RUNNERS)} or leave it empty"
            )
        self.runners: dict[str, Runner] = {name: cls(self.tools) for name, cls in RUNNERS.items()}
        served = [settings.language] if settings.language else list(RUNNERS)
        self._served = {name for name in served if self.runners[name].available()}
        self._slots: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(settings.concurrency):
            self._slots.put_nowait(slot)
        self._admitted = 0
        self._running = 0
        java = self.runners["java"]
        javac = java.javac_server() if "java" in self._served and isinstance(java, JavaRunner) else []
        self.sandbox = Sandbox(settings, javac=javac)

    # ---- capacity -------------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return self.settings.concurrency + self.settings.max_queue

    def languages(self) -> list[str]:
        """Languages this executor runs (configured and with an installed toolchain)."""
        return [name for name in self.runners if name in self._served]

    def _admit(self, n: int) -> None:
        free = self.capacity - self._admitted
        if n > free:
            raise ResourceExhausted(
                f"executor queue is full: {self._admitted} programs admitted, room for {free} more "
                f"(concurrency {self.settings.concurrency}, max_queue {self.settings.max_queue}); "
                "retry later or send smaller batches"
            )
        self._admitted += n
        self._publish()

    def _release(self) -> None:
        self._admitted -= 1
        self._publish()

    def _publish(self) -> None:
        RUNNING.set(self._running)
        QUEUE_DEPTH.set(max(0, self._admitted - self._running))

    # ---- validation -----------------------------------------------------------------------------
    def validate(self, program: ProgramSpec, where: str = "program") -> Limits:
        """Check a program and return its effective limits, or raise InvalidArgument."""
        runner = self.runners.get(program.language)
        if runner is None:
            raise InvalidArgument(
                f"{where}.language: unknown or unspecified language {program.language!r}; "
                f"use one of {', '.join(sorted(self.runners))}"
            )
        if program.language not in self._served:
            why = (
                f"this executor serves only {self.settings.language}"
                if self.settings.language
                else f"the {program.language} toolchain is not installed here "
                f"(scripts/install_toolchains.sh {program.language})"
            )
            raise FailedPrecondition(f"{where}.language: {why}; send {program.language} programs elsewhere")
        if not program.source.strip():
            raise InvalidArgument(f"{where}.source is empty: send the program's code")
        cap = self.settings.max_source_bytes
        for name, text in (("source", program.source), ("test", program.test)):
            size = len(text.encode("utf-8", errors="surrogatepass"))
            if size > cap:
                raise InvalidArgument(f"{where}.{name} is {size} bytes; the limit is {cap} bytes")
        names = {f.name for f in fields(Limits)}
        for key, value in program.limits.items():
            if key not in names:
                raise InvalidArgument(f"{where}.limits.{key}: unknown limit")
            top = getattr(MAX_LIMITS, key)
            if not math.isfinite(value):
                raise InvalidArgument(f"{where}.limits.{key} = {value} is not a finite number; use 0 (default) to {top}")
            if value < 0 or value > top:
                raise InvalidArgument(
                    f"{where}.limits.{key} = {value} is out of range; use 0 (default) to {top}"
                )
        return runner.defaults.merged(**program.limits)

    # ---- running --------------------------------------------------------------------------------
    async def execute(self, program: ProgramSpec) -> ExecutionResult:
        """Validate, admit and run one program."""
        limits = self.validate(program)
        self._admit(1)
        try:
            return await self._run_admitted(program, limits)
        finally:
            self._release()

    async def execute_batch(self, programs: list[ProgramSpec]) -> list[ExecutionResult]:
        """Run many programs (all admitted or none); results in request order."""
        if len(programs) > self.settings.max_batch:
            raise InvalidArgument(
                f"programs: {len(programs)} programs in one batch; the limit is {self.settings.max_batch}"
            )
        limits = [self.validate(p, f"programs[{i}]") for i, p in enumerate(programs)]
        self._admit(len(programs))
        tasks = [
            asyncio.ensure_future(self._run_then_release(p, lim))
            for p, lim in zip(programs, limits, strict=True)
        ]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def execute_stream(self, programs: AsyncIterator[ProgramSpec]) -> AsyncIterator[ExecutionResult]:
        """Results in completion order; a program that does not fit in the queue ends the stream
        with RESOURCE_EXHAUSTED (after the results of those already admitted)."""
        done: asyncio.Queue[ExecutionResult | BaseException | None] = asyncio.Queue()
        pending: set[asyncio.Task[None]] = set()

        async def one(program: ProgramSpec, limits: Limits) -> None:
            await done.put(await self._run_then_release(program, limits))

        async def feed() -> None:
            try:
                async for program in programs:
                    limits = self.validate(program)
                    self._admit(1)
                    task = asyncio.ensure_future(one(program, limits))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                await asyncio.gather(*list(pending))
                await done.put(None)
            except Exception as exc:  # handed to the consumer, which raises it after draining
                await asyncio.gather(*list(pending), return_exceptions=True)
                await done.put(exc)

        feeder = asyncio.ensure_future(feed())
        try:
            while (item := await done.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            feeder.cancel()
            for task in list(pending):
                task.cancel()

    async def _run_then_release(self, program: ProgramSpec, limits: Limits) -> ExecutionResult:
        try:
            return await self._run_admitted(program, limits)
        finally:
            self._release()

    async def _run_admitted(self, program: ProgramSpec, limits: Limits) -> ExecutionResult:
        slot = await self._slots.get()
        self._running += 1
        self._publish()
        try:
            result = await self._run_in_slot(program, limits, slot)
        finally:
            self._running -= 1
            self._publish()
            self._slots.put_nowait(slot)
        RESULTS.labels(program.language, result.status.value).inc()
        return result

    async def _run_in_slot(self, program: ProgramSpec, limits: Limits, slot: int) -> ExecutionResult:
        runner = self.runners[program.language]
        work = self.sandbox.work_dir(slot)
        env = {
            "PATH": runner.path(),
            "HOME": work,
            "TMPDIR": self.sandbox.tmp_dir(slot),
            "LANG": "C.UTF-8",
            **runner.env(),
        }
        # Build steps get roomier limits than the run, never tighter ones (the sandbox lowers a
        # slot's limits from step to step).
        steps = [
            Step(
                argv=argv,
                env=env,
                timeout=limits.compile_timeout_seconds,
                cpu_seconds=max(2 * limits.compile_timeout_seconds, limits.cpu_seconds),
                memory_bytes=max(COMPILE_MEMORY, limits.memory_bytes) if limits.memory_bytes else 0,
                max_processes=max(COMPILE_PROCESSES, limits.max_processes),
                max_file_bytes=max(limits.max_file_bytes, 1024**3),
                max_open_files=max(limits.max_open_files, 4096),
                max_output_bytes=limits.max_output_bytes,
                javac=runner.warm_compiler() if i == 0 else None,
            )
            for i, argv in enumerate(runner.compile_commands(limits, program.text))
        ]
        steps.append(
            Step(
                argv=runner.run_command(limits),
                env=env,
                timeout=limits.timeout_seconds,
                cpu_seconds=limits.cpu_seconds,
                memory_bytes=limits.memory_bytes,
                max_processes=limits.max_processes,
                # No single file beyond the disk budget (what holds where no tmpfs caps it).
                max_file_bytes=min(limits.max_file_bytes, limits.max_disk_bytes),
                max_open_files=limits.max_open_files,
                max_output_bytes=limits.max_output_bytes,
            )
        )
        job = Job(runner.filename, program.text, steps, limits.max_disk_bytes)
        outcomes = await self.sandbox.run(slot, job)
        if len(outcomes) < len(steps):  # a build step (or the set-up) ended the program
            return compile_failure(program.id, outcomes[-1], sum(o.seconds for o in outcomes), limits)
        *built, ran = outcomes
        compile_seconds = sum(step.seconds for step in built)
        status, detail = run_verdict(runner, ran, limits)
        return result_of(program.id, ran, status, detail, compile_seconds, ran.seconds)

    def close(self) -> None:
        """Stop the sandbox's slots and remove its work root (if it made it)."""
        self.sandbox.close()
