"""Garbage collection of what writers leave behind.

A writer that crashed, was killed or was abandoned leaves a version prefix with
``_writer.json`` and some shards but no ``_manifest.json``: invisible to readers, but
taking space. :func:`collect_garbage` removes such staging prefixes once their newest
object is older than a threshold. The threshold must exceed the longest pause of a live
writer (the service aborts writers idle for ``writer_idle_seconds``, 1 h by default; the
default threshold is 6 h): a writer resuming after its prefix was collected fails at commit
("lost its reservation") rather than committing a version with missing shards, except in
the short moment between that check and its manifest write.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from octopack.common.errors import DataLoss, InvalidArgument

if TYPE_CHECKING:
    from octopack.datasets.store import DatasetStore

log = logging.getLogger(__name__)


def collect_garbage(store: DatasetStore, older_than: timedelta) -> dict[str, Any]:
    """Remove stale uncommitted versions, shards that a committed manifest does not list, and run
    records (see :mod:`.staging`) whose version is gone.

    Returns ``{"removed_versions": ["name@version", ...], "removed_objects": N}``.
    """
    from octopack.datasets.reader import MANIFEST
    from octopack.datasets.store import WRITER

    cutoff = datetime.now(UTC) - older_than
    removed_versions: list[str] = []
    removed = 0
    for name in sorted(store.objects.list_prefixes(f"{store.root}/")):
        for version in store.objects.list_prefixes(f"{store.root}/{name}/"):
            try:
                prefix = store.version_prefix(name, version)
            except InvalidArgument:
                continue  # not written by this store
            objects = list(store.objects.list(prefix))
            if not objects or any(o.last_modified and o.last_modified > cutoff for o in objects):
                continue
            keys = {o.key for o in objects}
            if prefix + MANIFEST in keys:
                listed = {s.key for s in store.get_manifest(name, version).shards}
                for key in sorted(keys):
                    if key.endswith(".parquet") and key not in listed:
                        store.objects.delete(key)
                        removed += 1
                continue
            # The reservation first, so a writer that wakes up now fails its commit check.
            if prefix + WRITER in keys:
                store.objects.delete(prefix + WRITER)
            for key in sorted(keys - {prefix + WRITER}):
                store.objects.delete(key)
            removed += len(keys)
            removed_versions.append(f"{name}@{version}")
        removed += _stale_run_records(store, name)
    if removed_versions:
        log.info("gc removed uncommitted versions: %s", ", ".join(removed_versions))
    return {"removed_versions": removed_versions, "removed_objects": removed}


def _stale_run_records(store: DatasetStore, name: str) -> int:
    """Remove the run records of ``name`` whose staged version is gone (see :meth:`DatasetStore.find_run`)."""
    from octopack.datasets.staging import RUNS

    try:
        prefix = f"{store.dataset_prefix(name)}{RUNS}/"
    except InvalidArgument:
        return 0
    removed = 0
    for obj in list(store.objects.list(prefix)):
        run_id = obj.key[len(prefix):].removesuffix(".json")
        try:
            if store.find_run(name, run_id) is None:
                removed += 1
        except (InvalidArgument, DataLoss):
            store.objects.delete(obj.key)
            removed += 1
    return removed
