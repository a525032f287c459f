"""A small key/value file store over a local folder or an object-store prefix.

Models, checkpoints and run records are written through this one interface, so the
same code keeps them on a shared file system (a "storage path") or in S3.
Keys are ``/``-separated paths relative to the store's root.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol

from octopack.common.errors import NotFound


class Storage(Protocol):
    """What the registry and the trainer need from a store."""

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]: ...

    def upload_file(self, key: str, path: Path) -> None: ...

    def download_file(self, key: str, path: Path) -> None: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def describe(self, key: str) -> str: ...


class LocalStorage:
    """A folder on disk (or a shared volume)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)  # readers never see a half-written file

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"{path} does not exist")
        return path.read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.exists():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in base.rglob("*")
            if p.is_file() and not p.name.endswith(".part")
        )

    def upload_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(path, tmp)
        tmp.replace(target)

    def download_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise NotFound(f"{source} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def describe(self, key: str) -> str:
        return str(self._path(key))


class ObjectStorage:
    """A prefix inside the project's object store (see :mod:`octopack.common.objectstore`)."""

    def __init__(self, store: Any, prefix: str = "") -> None:
        self.store = store
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def put_bytes(self, key: str, data: bytes) -> None:
        self.store.put_bytes(self._key(key), data)

    def get_bytes(self, key: str) -> bytes:
        return bytes(self.store.get_bytes(self._key(key)))

    def exists(self, key: str) -> bool:
        return bool(self.store.exists(self._key(key)))

    def list(self, prefix: str) -> list[str]:
        return sorted(self._rel(k) for k in self.store.list_keys(self._key(prefix)))

    def upload_file(self, key: str, path: Path) -> None:
        self.store.put_file(self._key(key), path)

    def download_file(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.store.get_file(self._key(key), path)

    def delete_prefix(self, prefix: str) -> None:
        self.store.delete_prefix(self._key(prefix) + "/")

    def describe(self, key: str) -> str:
        return self.store.url(self._key(key)) if hasattr(self.store, "url") else self._key(key)


def upload_dir(storage: Storage, prefix: str, folder: Path) -> list[str]:
    """Upload every file under ``folder`` to ``prefix/<relative path>``; return the relative paths."""
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    for name in names:
        storage.upload_file(f"{prefix}/{name}", folder / name)
    return names


def download_dir(storage: Storage, prefix: str, folder: Path) -> list[str]:
    """Download every key under ``prefix/`` into ``folder``; return the relative paths."""
    names = [k[len(prefix) + 1 :] for k in storage.list(prefix) if k.startswith(prefix + "/")]
    for name in names:
        storage.download_file(f"{prefix}/{name}", folder / name)
    return names
