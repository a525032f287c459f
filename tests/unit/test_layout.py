"""The source tree's shape: packages as the build maps them, no links, one catalog of services.

These hold the layout the README describes: ``services/`` and ``ray_jobs/`` are mapped into the
``octopack`` package by the build (no symbolic links), and library code does not reach into services.
"""

from __future__ import annotations

import ast
import subprocess
import tomllib
from pathlib import Path

import yaml

from octopack.common.catalog import INFERENCE, SERVICES
from tests.conftest import ROOT

SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
#: Library code that may start or embed services: the CLI and the local stack.
MAY_USE_SERVICES = ("octopack/cli/", "octopack/stack/")


def _package_folders() -> dict[str, Path]:
    """Import name -> folder of every package the tree holds, as the build maps folders."""
    roots = {"octopack": ROOT / "octopack", **{k: ROOT / v for k, v in SETUPTOOLS["package-dir"].items()}}
    found: dict[str, Path] = {}
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            found[".".join([name, *rel.parts])] = init.parent
    return found


def test_package_list_matches_the_tree() -> None:
    assert sorted(SETUPTOOLS["packages"]) == sorted(_package_folders())


def test_tracked_tree_has_no_symbolic_links() -> None:
    out = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    links = [line.split("\t", 1)[1] for line in out.splitlines() if line.startswith("120000 ")]
    assert links == []
    on_disk = [p for p in ROOT.rglob("*") if p.is_symlink() and ".venv" not in p.parts and "build" not in p.parts]
    assert on_disk == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_library_modules_do_not_import_services() -> None:
    offenders = []
    for folder in (ROOT / "octopack", ROOT / "ray_jobs"):
        for path in folder.rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(MAY_USE_SERVICES):
                continue
            bad = sorted(m for m in _imports(path) if m.startswith("octopack.services"))
            offenders += [f"{rel}: {m}" for m in bad]
    assert offenders == []


def test_no_service_imports_another_services_package() -> None:
    """A service talks to another one over gRPC (or through the library), never through its code."""
    offenders = []
    for folder in sorted(p for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()):
        own = f"octopack.services.{folder.name}"
        for path in folder.rglob("*.py"):
            bad = sorted(
                m for m in _imports(path)
                if m.startswith("octopack.services.") and m != own and not m.startswith(own + ".")
            )
            offenders += [f"{path.relative_to(ROOT).as_posix()}: {m}" for m in bad]
    assert offenders == []


def test_catalog_matches_settings_and_protos() -> None:
    import importlib

    for info in [*SERVICES.values(), INFERENCE]:
        settings_module = importlib.import_module(f"{info.module}.settings")
        classes = [
            v for v in vars(settings_module).values()
            if isinstance(v, type) and v.__module__ == settings_module.__name__ and "port" in getattr(v, "model_fields", {})
        ]
        assert len(classes) == 1, info.name
        cls = classes[0]
        assert cls.model_config["env_prefix"] == info.prefix
        assert cls.model_fields["port"].default == info.port
        server = importlib.import_module(f"{info.module}.server")
        assert info.proto_service == server.SERVICE_NAME
        assert (ROOT / "protos" / Path(*info.proto_service.split(".")[:-1])).is_dir()


def test_catalog_matches_chart_values() -> None:
    values = yaml.safe_load((ROOT / "charts" / "octopack" / "values.yaml").read_text())
    for info in SERVICES.values():
        assert values[info.name]["port"] == info.port, info.name
    assert values["inference"]["grpcPort"] == INFERENCE.port
