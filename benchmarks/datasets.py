"""Dataset store throughput: write and read CommitPack-like rows through S3.

Starts its own SeaweedFS (``weed mini``) unless ``--env`` uses the ``OCTOPACK_S3_*`` server.
OctoPack's store (zstd Parquet shards, sha256-checked on read) runs side by side with a
baseline that a script would write without it: one JSON-lines object per 10k rows, read back
with ``json.loads``. Rows look like CommitPackFT samples (about 2 KB of code before and after).

    python benchmarks/datasets.py               # 100k rows
    python benchmarks/datasets.py --rows 20000  # quicker
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from octopack.common.objectstore import ObjectStore, S3Settings
from octopack.common.s3server import LocalS3Server
from octopack.datasets.shards import ShardPolicy
from octopack.datasets.store import DatasetStore

WORDS = [
    "def",
    "return",
    "self",
    "if",
    "else",
    "for",
    "in",
    "range",
    "len",
    "x",
    "y",
    "value",
    "result",
    "data",
    "item",
    "key",
    "None",
    "True",
    "False",
    "import",
]


def rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lines = [
            "    " * rng.randint(0, 3) + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
            for _ in range(rng.randint(20, 60))
        ]
        old = "\n".join(lines)
        lines[rng.randrange(len(lines))] = "    return " + " ".join(rng.choice(WORDS) for _ in range(4))
        path = f"src/pkg_{rng.randrange(500)}/mod_{rng.randrange(50)}.py"
        subject = f"Fix {rng.choice(WORDS)} handling in {path.rsplit('/', 1)[-1]}"
        out.append(
            {
                "commit": f"{rng.getrandbits(160):040x}",
                "old_file": path,
                "new_file": path,
                "old_contents": old,
                "new_contents": "\n".join(lines),
                "subject": subject,
                "message": f"{subject}\n\nDetails of change {i}.",
                "lang": "Python",
                "license": rng.choice(["mit", "apache-2.0", "bsd-3-clause"]),
                "repos": f"org{rng.randrange(100)}/repo{rng.randrange(1000)}",
            }
        )
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(settings: S3Settings, n: int, shard_rows: int) -> None:
    objects = ObjectStore(settings)
    objects.ensure_bucket()
    data = rows(n)
    raw_mb = sum(len(json.dumps(r)) for r in data) / 2**20
    print(
        f"{n:,} rows, {raw_mb:.0f} MiB as JSON; S3 at {settings.url}; peak RSS after generating {peak_mb():.0f} MiB"
    )

    store = DatasetStore(objects, policy=ShardPolicy(max_rows=shard_rows))

    def write_store() -> Any:
        writer = store.create_version("bench")
        writer.write(data)
        return writer.commit()

    def write_jsonl() -> int:
        size = 0
        for k, start in enumerate(range(0, n, 10_000)):
            body = "".join(json.dumps(r) + "\n" for r in data[start : start + 10_000]).encode()
            objects.put(f"baseline/part-{k:05d}.jsonl", body)
            size += len(body)
        return size

    def read_store_batches() -> int:
        return sum(b.num_rows for b in store.iter_batches("bench"))

    def read_store_records() -> int:
        return sum(1 for _ in store.iter_records("bench"))

    def read_jsonl() -> int:
        return sum(
            1
            for key in objects.list_keys("baseline/")
            for line in objects.get(key).splitlines()
            if json.loads(line)
        )

    t_w, manifest = timed(write_store)
    peak_write = peak_mb()
    t_wb, base_bytes = timed(write_jsonl)
    t_rb_arrow, got = timed(read_store_batches)
    assert got == n
    t_rr, got = timed(read_store_records)
    assert got == n
    t_rb, got = timed(read_jsonl)
    assert got == n
    t_cols, table = timed(lambda: store.read_table("bench", columns=["subject", "lang"]))
    assert table.num_rows == n

    print(
        f"\nstore: {len(manifest.shards)} shards, {manifest.num_bytes / 2**20:.1f} MiB zstd Parquet; "
        f"baseline: {base_bytes / 2**20:.1f} MiB JSON lines"
    )
    print(f"{'operation':<34}{'octopack rows/s':>16}{'baseline rows/s':>17}{'ratio':>8}")
    for label, ours, base in (
        ("write (dicts -> S3)", t_w, t_wb),
        ("read as Arrow batches", t_rb_arrow, t_rb),
        ("read as dicts", t_rr, t_rb),
        ("read 2 columns (Arrow)", t_cols, t_rb),
    ):
        print(f"{label:<34}{n / ours:>16,.0f}{n / base:>17,.0f}{base / ours:>7.2f}x")
    print(f"stored size ratio (baseline / octopack): {base_bytes / manifest.num_bytes:.1f}x")
    print(
        f"peak RSS: {peak_write:.0f} MiB after the store's write, {peak_mb():.0f} MiB at the end; "
        f"Arrow pool peak {pa.default_memory_pool().max_memory() / 2**20:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--shard-rows", type=int, default=25_000)
    parser.add_argument(
        "--env", action="store_true", help="use the OCTOPACK_S3_* server instead of a new one"
    )
    args = parser.parse_args()
    if args.env:
        run(S3Settings(), args.rows, args.shard_rows)
        return
    with LocalS3Server() as server:
        run(server.settings("bench"), args.rows, args.shard_rows)


if __name__ == "__main__":
    main()
