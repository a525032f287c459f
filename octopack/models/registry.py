"""The model registry: Hugging Face directories stored as ``<name>/<version>/`` with a manifest.

A version is a folder of files plus ``manifest.json`` (files with sizes and SHA-256,
the base model, free-form metadata such as the training config and metrics). The
manifest is written last: a version without one is an interrupted upload and is
invisible. Downloads land in the local cache and are verified against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octopack.common.errors import DataLoss, InvalidArgument, NotFound
from octopack.models.settings import ModelSettings
from octopack.models.storage import Storage

MANIFEST = "manifest.json"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_VERSION = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class ModelRef:
    """``name@version``; a missing version means the latest."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


def parse_model_ref(text: str) -> ModelRef:
    """Parse ``name`` or ``name@vN``."""
    name, _, version = text.strip().partition("@")
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"model name {name!r} is invalid: use lower-case letters, digits, '.', '_' and '-' (max 100)"
        )
    if version and not _VERSION.fullmatch(version):
        raise InvalidArgument(f"model version {version!r} is invalid: write it as v1, v2, ...")
    return ModelRef(name, version or None)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ModelRegistry:
    """Upload, list and download model versions."""

    def __init__(self, storage: Storage, settings: ModelSettings | None = None) -> None:
        self.storage = storage
        self.settings = settings or ModelSettings()

    def versions(self, name: str) -> list[str]:
        """Complete versions of ``name``, oldest first."""
        found = set()
        for key in self.storage.list(name):
            parts = key.split("/")
            if len(parts) == 3 and parts[2] == MANIFEST and _VERSION.fullmatch(parts[1]):
                found.add(parts[1])
        return sorted(found, key=lambda v: int(v[1:]))

    def resolve(self, ref: ModelRef | str) -> ModelRef:
        """Pin a reference to a concrete, complete version."""
        ref = parse_model_ref(ref) if isinstance(ref, str) else ref
        versions = self.versions(ref.name)
        if not versions:
            raise NotFound(f"model {ref.name!r} has no versions in the registry; register one first")
        if ref.version is None:
            return ModelRef(ref.name, versions[-1])
        if ref.version not in versions:
            raise NotFound(f"model {ref} does not exist; versions: {', '.join(versions)}")
        return ref

    def manifest(self, ref: ModelRef | str) -> dict[str, Any]:
        ref = self.resolve(ref)
        return dict(json.loads(self.storage.get_bytes(f"{ref.name}/{ref.version}/{MANIFEST}")))

    def upload(
        self, name: str, folder: Path, metadata: dict[str, Any] | None = None, version: str | None = None
    ) -> ModelRef:
        """Register ``folder`` as the next version of ``name`` (or as ``version``)."""
        parse_model_ref(name)
        if not (folder / "config.json").exists():
            raise InvalidArgument(f"{folder} is not a Hugging Face model directory (no config.json)")
        existing = self.versions(name)
        if version is None:
            version = f"v{int(existing[-1][1:]) + 1}" if existing else "v1"
        prefix = f"{name}/{version}"
        files = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = str(path.relative_to(folder))
            self.storage.upload_file(f"{prefix}/{rel}", path)
            files.append({"path": rel, "size": path.stat().st_size, "sha256": _sha256(path)})
        manifest = {
            "name": name,
            "version": version,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": files,
            "metadata": metadata or {},
        }
        self.storage.put_bytes(f"{prefix}/{MANIFEST}", json.dumps(manifest, indent=2).encode())
        return ModelRef(name, version)

    def download(self, ref: ModelRef | str, dest: Path | None = None) -> Path:
        """A local directory with the version's files (cached; verified against the manifest)."""
        ref = self.resolve(ref)
        target = dest or self.settings.cache_dir / "registry" / ref.name / str(ref.version)
        if (target / MANIFEST).exists():
            return target
        manifest = self.manifest(ref)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{ref.version}-", dir=target.parent))
        try:
            for entry in manifest["files"]:
                path = tmp / entry["path"]
                self.storage.download_file(f"{ref.name}/{ref.version}/{entry['path']}", path)
                if _sha256(path) != entry["sha256"]:
                    raise DataLoss(f"{ref}: {entry['path']} does not match its manifest checksum")
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
            if target.exists() and not (target / MANIFEST).exists():
                shutil.rmtree(target)  # a download interrupted before its manifest
            try:
                tmp.rename(target)
            except OSError:
                if not (target / MANIFEST).exists():
                    raise  # otherwise another process (a second worker) finished the same download

        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target
