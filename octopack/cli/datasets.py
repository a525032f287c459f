"""``octopack datasets``: list, show, export, delete and garbage-collect dataset versions.

By default it reads the S3 bucket directly (``OCTOPACK_S3_*``); ``--server HOST:PORT`` goes
through a running DatasetService instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "datasets",
        help="list, show and export versioned datasets (S3 via OCTOPACK_S3_*, or --server)",
        description="Versioned datasets in the object store. NAME@VERSION picks a version; NAME alone the newest.",
    )
    p.add_argument("--server", metavar="HOST:PORT", help="use a DatasetService instead of S3 directly")
    p.add_argument("--token", help="bearer token for --server")
    p.add_argument("--bucket", help="S3 bucket (default: OCTOPACK_S3_BUCKET or 'octopack')")
    cmds = p.add_subparsers(dest="datasets_command", metavar="ACTION")
    cmds.required = True

    cmds.add_parser("list", help="every dataset with its newest version").set_defaults(func=run_list)

    show = cmds.add_parser("show", help="a version's manifest: schema, shards, lineage, statistics")
    show.add_argument("ref", metavar="NAME[@VERSION]")
    show.add_argument("--json", action="store_true", help="print the manifest as stored (JSON)")
    show.set_defaults(func=run_show)

    export = cmds.add_parser("export", help="write a version's records as JSON lines")
    export.add_argument("ref", metavar="NAME[@VERSION]")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    export.add_argument("--columns", help="comma-separated columns to keep (default: all)")
    export.add_argument("--limit", type=int, default=0, help="at most this many records (0 = all)")
    export.set_defaults(func=run_export)

    delete = cmds.add_parser("delete", help="remove one committed version")
    delete.add_argument("ref", metavar="NAME@VERSION")
    delete.set_defaults(func=run_delete)

    gc = cmds.add_parser("gc", help="remove uncommitted versions left by crashed or abandoned writers")
    gc.add_argument("--older-than", type=float, default=6.0, metavar="HOURS", help="minimum idle age (6)")
    gc.set_defaults(func=run_gc)


def _backend(args: argparse.Namespace, stack: ExitStack) -> Any:
    """A DatasetStore (S3) or a DatasetClient (gRPC): both list, read and delete the same way."""
    if args.server:
        from octopack.datasets.client import DatasetClient

        return stack.enter_context(DatasetClient(args.server, token=args.token))
    from octopack.common.objectstore import ObjectStore, S3Settings
    from octopack.datasets.store import DatasetStore

    settings = S3Settings(**({"bucket": args.bucket} if args.bucket else {}))
    return DatasetStore(ObjectStore(settings))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def run_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    with ExitStack() as stack:
        backend = _backend(args, stack)
        # The service answers summaries, the store names.
        names = [getattr(d, "name", d) for d in backend.list_datasets()]
        table = Table(title="datasets")
        for column in ("name", "versions", "latest", "rows", "size", "shards", "created (UTC)", "job"):
            table.add_column(
                column, justify="right" if column in ("versions", "rows", "size", "shards") else "left"
            )
        for name in names:
            manifests = backend.list_manifests(name)
            if not manifests:
                continue
            m = manifests[-1]
            table.add_row(
                name,
                str(len(manifests)),
                m.version,
                f"{m.num_rows:,}",
                _size(m.num_bytes),
                str(len(m.shards)),
                m.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                m.lineage.job_id or "-",
            )
    console = Console()
    if not names:
        console.print("no datasets yet")
    else:
        console.print(table)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from octopack.datasets.names import parse_ref

    name, version = parse_ref(args.ref)
    with ExitStack() as stack:
        backend = _backend(args, stack)
        m = backend.get_manifest(name, version)
        bucket = getattr(getattr(backend, "objects", None), "bucket", None)
    if args.json:
        print(m.to_json().decode())
        return 0
    console = Console()
    console.print(f"[bold]{m.ref}[/bold]  {m.description}")
    console.print(
        f"rows {m.num_rows:,}   size {_size(m.num_bytes)}   shards {len(m.shards)}   "
        f"created {m.created_at.isoformat(timespec='seconds')}"
    )
    console.print(f"parents {', '.join(m.lineage.parents) or '-'}   job {m.lineage.job_id or '-'}   "
                  f"profile {m.profile or '-'}")
    fields = Table(title="schema")
    for column in ("column", "type", "nullable"):
        fields.add_column(column)
    for f in m.fields:
        fields.add_row(f.name, f.type, "yes" if f.nullable else "no")
    console.print(fields)
    shards = Table(title="shards")
    for column in ("key", "rows", "size", "sha256"):
        shards.add_column(column, justify="right" if column in ("rows", "size") else "left")
    for s in m.shards:
        shards.add_row(
            s.key if bucket is None else f"s3://{bucket}/{s.key}",
            f"{s.rows:,}",
            _size(s.bytes),
            s.sha256[:16],
        )
    console.print(shards)
    for label, doc in (
        ("filter configuration", m.lineage.filter_config),
        ("statistics", m.lineage.stats),
        ("extra", m.extra),
    ):
        if doc:
            console.print(f"[bold]{label}[/bold]")
            console.print_json(json.dumps(doc))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from octopack.datasets.convert import record_json
    from octopack.datasets.names import parse_ref

    name, version = parse_ref(args.ref)
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    with ExitStack() as stack:
        backend = _backend(args, stack)
        manifest = backend.get_manifest(name, version)
        out = stack.enter_context(open(args.out, "w", encoding="utf-8")) if args.out else sys.stdout
        total = min(manifest.num_rows, args.limit) if args.limit else manifest.num_rows
        progress = stack.enter_context(
            Progress(
                TextColumn(manifest.ref),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),  # stdout may carry the records
                disable=not args.out,
                transient=True,
            )
        )
        task = progress.add_task("export", total=total)
        written = 0
        for record in backend.iter_records(name, manifest.version, columns):
            out.write(record_json(record) + "\n")
            written += 1
            if written % 1000 == 0:
                progress.update(task, completed=written)
            if args.limit and written >= args.limit:
                break
    if args.out:
        print(f"wrote {written:,} records of {manifest.ref} to {args.out}", file=sys.stderr)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from octopack.common.errors import InvalidArgument
    from octopack.datasets.names import parse_ref

    name, version = parse_ref(args.ref)
    if version is None:
        raise InvalidArgument(f"delete needs an explicit version: NAME@VERSION, e.g. {name}@v1")
    with ExitStack() as stack:
        removed = _backend(args, stack).delete_version(name, version)
    print(f"deleted {name}@{version} ({removed} objects)")
    return 0


def run_gc(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from octopack.common.errors import InvalidArgument

    if args.server:
        raise InvalidArgument("gc works on the bucket directly: run it without --server")
    with ExitStack() as stack:
        report = _backend(args, stack).gc(older_than=timedelta(hours=args.older_than))
    removed = report["removed_versions"]
    print(f"removed {len(removed)} uncommitted versions ({report['removed_objects']} objects)")
    for ref in removed:
        print(f"  {ref}")
    return 0
