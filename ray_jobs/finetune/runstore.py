"""What a run keeps in storage: ``runs/<run>/`` with checkpoints, metrics, progress and the result.

Layout::

    runs/<run>/config.json
    runs/<run>/progress.json              latest step, loss, tokens/s (rewritten every log step)
    runs/<run>/metrics.jsonl              every logged step (rewritten at each checkpoint and at the end)
    runs/<run>/checkpoints/step-000010/   trainable weights, optimizer, scheduler, state.json
    runs/<run>/checkpoints/step-000010/COMPLETE   written last: a checkpoint without it is ignored
    runs/<run>/result.json                written once the final model is registered: the run is done

The completion markers make a restarted job skip finished work and resume from the
last complete checkpoint.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from octopack.models.settings import ModelSettings
from octopack.models.storage import LocalStorage, ObjectStorage, Storage, download_dir, upload_dir

_STEP = re.compile(r"^step-(\d+)$")
COMPLETE = "COMPLETE"


def open_storage(where: str, s3: Any = None) -> tuple[Storage, Storage]:
    """(runs storage, models storage) for ``where`` = 's3' or a local folder."""
    if where == "s3":
        from octopack.common.objectstore import ObjectStore, S3Settings

        store = ObjectStore(s3 or S3Settings())
        store.ensure_bucket()
        return ObjectStorage(store, "runs"), ObjectStorage(store, ModelSettings().registry_prefix)
    root = Path(where).expanduser()
    return LocalStorage(root / "runs"), LocalStorage(root / "models")


class RunStore:
    """One run's records in a :class:`Storage` of runs."""

    def __init__(self, storage: Storage, run: str) -> None:
        self.storage = storage
        self.run = run

    def _key(self, *parts: str) -> str:
        return "/".join((self.run, *parts))

    def write_json(self, name: str, doc: Any) -> None:
        self.storage.put_bytes(self._key(name), json.dumps(doc, indent=1).encode())

    def read_json(self, name: str) -> Any | None:
        key = self._key(name)
        return json.loads(self.storage.get_bytes(key)) if self.storage.exists(key) else None

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        self.storage.put_bytes(self._key("metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in rows).encode())

    def read_metrics(self) -> list[dict[str, Any]]:
        key = self._key("metrics.jsonl")
        if not self.storage.exists(key):
            return []
        return [json.loads(line) for line in self.storage.get_bytes(key).decode().splitlines() if line]

    def checkpoint_steps(self) -> list[int]:
        """Steps with a complete checkpoint, ascending."""
        steps = set()
        for key in self.storage.list(self._key("checkpoints")):
            parts = key.split("/")
            if len(parts) >= 4 and parts[-1] == COMPLETE and (m := _STEP.match(parts[-2])):
                steps.add(int(m.group(1)))
        return sorted(steps)

    def save_checkpoint(self, step: int, folder: Path, keep: int) -> str:
        prefix = self._key("checkpoints", f"step-{step:06d}")
        upload_dir(self.storage, prefix, folder)
        self.storage.put_bytes(f"{prefix}/{COMPLETE}", b"")
        for old in self.checkpoint_steps()[:-keep]:
            self.storage.delete_prefix(self._key("checkpoints", f"step-{old:06d}"))
        return self.storage.describe(prefix)

    def load_checkpoint(self, step: int) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"octopack-ckpt-{step}-"))
        download_dir(self.storage, self._key("checkpoints", f"step-{step:06d}"), folder)
        return folder
