"""Rust: the program's ``#[test]`` functions, as ``cargo test`` runs them; exit 0 passes.

Instead of a cargo project per program (which rebuilds rand, regex and md5 every time, 3.5-4 s),
``rustc --test`` compiles the one file against the rlibs that ``scripts/install_toolchains.sh``
prebuilt with cargo's dev profile. The flags are the dev profile's (no optimisation, debug
assertions and overflow checks on), so verdicts match ``cargo test``; each program has its own
work directory and binary, so no program can ever run another's test binary.
"""

from __future__ import annotations

from octopack.services.executor.model import Limits
from octopack.services.executor.runners.base import Runner, limits


class RustRunner(Runner):
    language = "rust"
    filename = "main.rs"
    defaults = limits(timeout=60, compile_timeout=300)
    memory_markers = ("memory allocation of",)
    failure_markers = ("test result: FAILED",)

    def executables(self) -> list[str]:
        return [
            str(self.tools.root / "rust" / "bin" / "rustc"),
            str(self.tools.root / "rust" / "externs.json"),
        ]

    def path(self) -> str:
        return f"{self.tools.root / 'rust' / 'bin'}:/usr/bin:/bin"

    def compile_commands(self, limits: Limits, text: str = "") -> list[list[str]]:
        info = self.tools.rust_externs()
        externs: dict[str, str] = info.get("externs", {})  # type: ignore[assignment]
        argv = [str(self.tools.root / "rust" / "bin" / "rustc"), "--edition", "2021", "--test"]
        argv += ["-C", "debuginfo=0", "-C", "debug-assertions=on", "-C", "overflow-checks=on"]
        argv += ["--crate-name", "main", "-L", f"dependency={info.get('deps_dir', '')}"]
        for name, rlib in sorted(externs.items()):
            argv += ["--extern", f"{name}={rlib}"]
        return [[*argv, "-o", "main_test", self.filename]]

    def run_command(self, limits: Limits) -> list[str]:
        return ["./main_test", "--test-threads=1"]
