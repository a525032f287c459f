"""Java: ``javac Main.java`` then ``java Main`` (the test is ``public class Main``); exit 0 passes.

The build is done by the slot's warm javac (``toolchains/JavacServer.java``: the JDK's own
compiler, loaded once per slot, compiling from memory) with the command line's options; the
class path it sees is empty, as the work directory holds nothing but the source. Without it (not
installed, or its compile failed inside), ``javac`` runs as a command. Both commands' JVMs start
with C1 only (``-XX:TieredStopAtLevel=1``), the serial GC, the default class data sharing archive
and no performance-data file: HumanEvalPack programs run for milliseconds, so JIT tiers and GC
threads are pure start-up cost. The verdicts are the same as with default flags.
"""

from __future__ import annotations

from octopack.services.executor.model import Limits, Status, StepOutcome
from octopack.services.executor.runners.base import GiB, Runner, limits

JVM_FLAGS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-XX:CICompilerCount=1", "-XX:-UsePerfData"]
JAVAC_OPTIONS = ["-encoding", "UTF-8", "-nowarn"]
#: The warm javac's class path: nothing (the command's is the work directory, holding only the source).
NO_CLASSES = "/nonexistent/octopack-empty-classpath"
JVM_SIZES = ["-XX:CompressedClassSpaceSize=128m", "-XX:ReservedCodeCacheSize=64m"]
#: Address space the JVM reserves beyond its heap (class space, code cache, thread stacks).
JVM_OVERHEAD = 3 * GiB // 2


#: What the JVM prints when the process limit leaves it no thread to start.
THREAD_MARKERS = ("Failed to start thread", "unable to create native thread", "Cannot create worker GC thread")


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
        return [["javac", *flags, *JAVAC_OPTIONS, self.filename]]

    def warm_compiler(self) -> dict[str, object] | None:
        if not self.javac_server():
            return None
        return {"file": self.filename, "options": [*JAVAC_OPTIONS, "-classpath", NO_CLASSES, "-sourcepath", NO_CLASSES]}

    def javac_server(self) -> list[str]:
        """The warm javac's command line, or [] when it is not installed."""
        classes = self.tools.root / "java"
        if not (classes / "JavacServer.class").exists():
            return []
        return ["/usr/bin/java", "-XX:+UseSerialGC", "-Xshare:auto", "-XX:-UsePerfData", "-Xss8m", "-cp", str(classes), "JavacServer"]

    def run_command(self, limits: Limits) -> list[str]:
        return ["java", *JVM_FLAGS, *JVM_SIZES, self._heap(limits), "-cp", ".", "Main"]

    def judge(self, run: StepOutcome) -> Status:
        if run.exit_code == 0:
            return Status.PASSED
        if "java.lang.AssertionError" in run.stderr:
            return Status.FAILED
        # Any other uncaught throwable is a crash before the tests could judge; so is a JVM that could not
        # start its own threads (the process limit), which it says in its log on stdout.
        no_thread = any(marker in run.stdout or marker in run.stderr for marker in THREAD_MARKERS)
        if "Exception in thread" in run.stderr or run.signal or no_thread:
            return Status.RUNTIME_ERROR
        return Status.FAILED
