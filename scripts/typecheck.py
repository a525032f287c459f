"""Type-check the installed package layout with mypy.

The build maps ``services/`` to ``octopack.services`` and ``ray_jobs/`` to ``octopack.ray_jobs``
(``[tool.setuptools] package-dir`` in pyproject.toml). mypy does not follow setuptools' editable
import hook, so this script mirrors the three folders into ``build/typecheck/octopack`` as the
wheel lays them out (copies that keep their modification times, so mypy's cache stays warm), runs
mypy there and prints every path as the file in the source tree.

Usage: python scripts/typecheck.py [mypy args...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "typecheck"
SUFFIXES = {".py", ".pyi", ".typed"}


def mapping() -> dict[str, Path]:
    """Import path prefix -> source folder, from pyproject.toml."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    out = {"octopack": ROOT / "octopack"}
    for package, folder in conf.get("package-dir", {}).items():
        out[package] = ROOT / folder
    return out


def stage() -> dict[Path, Path]:
    """Mirror the sources into STAGE; return staged file -> source file."""
    seen: dict[Path, Path] = {}
    for package, folder in mapping().items():
        target = STAGE.joinpath(*package.split("."))
        for src in folder.rglob("*"):
            if src.suffix not in SUFFIXES or "__pycache__" in src.parts or not src.is_file():
                continue
            rel = src.relative_to(folder)
            dst = target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists() or dst.stat().st_mtime_ns != src.stat().st_mtime_ns or dst.read_bytes() != src.read_bytes():
                shutil.copy2(src, dst)
            seen[dst] = src
    for stale in [p for p in STAGE.rglob("*") if p.is_file() and p not in seen]:
        stale.unlink()
    return seen


def main() -> int:
    files = stage()
    back = {str(dst.relative_to(STAGE)): str(src.relative_to(ROOT)) for dst, src in files.items()}
    cmd = [sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache"),
           "--config-file", str(ROOT / "pyproject.toml"), "octopack", *sys.argv[1:]]
    proc = subprocess.run(cmd, cwd=STAGE, capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        path, sep, rest = line.partition(":")
        print(f"{back.get(path, path)}{sep}{rest}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
