"""Go: ``go test`` on ``main_test.go`` in GOPATH mode with testify; exit 0 passes.

``go test`` is split in its two halves so each gets its own budget: ``go test -c`` builds the test
binary (vet included, exactly as ``go test`` does) and the binary runs with ``-test.paniconexit0``
as ``go test`` passes it. cgo is off, so a build never runs anything from the program.

The test binary is linked without a symbol table and DWARF (``-ldflags=-s -w``): linking is two
thirds of a build here and DWARF half of the link. Stack traces, ``runtime.Caller`` and testify's
file:line messages read the pclntab, which stays, so the program behaves the same.
"""

from __future__ import annotations

from octopack.services.executor.model import Limits
from octopack.services.executor.runners.base import Runner, limits


class GoRunner(Runner):
    language = "go"
    filename = "main_test.go"
    defaults = limits(timeout=20, compile_timeout=60, processes=256)
    memory_markers = ("runtime: out of memory", "cannot allocate memory")
    failure_markers = ("--- FAIL",)
    # The Go runtime's own fatal errors (no OS thread left under the process cap, deadlock) end the
    # process before any test can judge it.
    crash_markers = ("runtime: failed to create new OS thread", "fatal error: ")

    def executables(self) -> list[str]:
        return ["go"]

    def env(self) -> dict[str, str]:
        return {
            "GO111MODULE": "off",
            "GOPATH": "/usr/share/gocode",
            "GOCACHE": str(self.tools.go_cache),
            "CGO_ENABLED": "0",
            "GOFLAGS": "",
            "GOTOOLCHAIN": "local",
        }

    def compile_commands(self, limits: Limits, text: str = "") -> list[list[str]]:
        return [["go", "test", "-c", "-ldflags=-s -w", "-o", "main.test", "."]]

    def run_command(self, limits: Limits) -> list[str]:
        timeout = int(limits.timeout_seconds) + 1
        return ["./main.test", "-test.paniconexit0", f"-test.timeout={timeout}s"]
