"""Java: ``javac Main.java`` then ``java Main`` (the test is ``public class Main``); exit 0 passes.

Both JVMs start with C1 only (``-XX:TieredStopAtLevel=1``), the serial GC and the default class
data sharing archive: HumanEvalPack programs run for milliseconds, so JIT tiers and GC threads are
pure start-up cost. The verdicts are the same as with default flags.
"""

from __future__ import annotations

from octopack.services.executor.model import Limits, Status, StepOutcome
from octopack.services.executor.runners.base import GiB, Runner, limits

JVM_FLAGS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-XX:CICompilerCount=1"]
JVM_SIZES = ["-XX:CompressedClassSpaceSize=128m", "-XX:ReservedCodeCacheSize=64m"]
#: Address space the JVM reserves beyond its heap (class space, code cache, thread stacks).
JVM_OVERHEAD = 3 * GiB // 2


class JavaRunner(Runner):
    language = "java"
    filename = "Main.java"
    defaults = limits(timeout=10, compile_timeout=60, memory=4 * GiB, processes=256)
    # "unable to create native thread" is the process limit, not memory: not listed.
    memory_markers = (
        "OutOfMemoryError: Java heap space",
        "OutOfMemoryError: Requested array size",
        "OutOfMemoryError: Metaspace",
        "OutOfMemoryError: GC overhead",
        "Could not reserve enough space",
    )
    failure_markers = ("java.lang.AssertionError",)

    def executables(self) -> list[str]:
        return ["javac", "java"]

    @staticmethod
    def _heap(limits: Limits) -> str:
        mb = max(64, (limits.memory_bytes - JVM_OVERHEAD) // (1024 * 1024)) if limits.memory_bytes else 1024
        return f"-Xmx{mb}m"

    def compile_commands(self, limits: Limits, text: str = "") -> list[list[str]]:
        flags = [f"-J{f}" for f in [*JVM_FLAGS, *JVM_SIZES, self._heap(limits)]]
        return [["javac", *flags, "-encoding", "UTF-8", "-nowarn", self.filename]]

    def run_command(self, limits: Limits) -> list[str]:
        return ["java", *JVM_FLAGS, *JVM_SIZES, self._heap(limits), "-cp", ".", "Main"]

    def judge(self, run: StepOutcome) -> Status:
        if run.exit_code == 0:
            return Status.PASSED
        if "java.lang.AssertionError" in run.stderr:
            return Status.FAILED
        # Any other uncaught throwable is a crash before the tests could judge.
        if "Exception in thread" in run.stderr or run.signal:
            return Status.RUNTIME_ERROR
        return Status.FAILED
