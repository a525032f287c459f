"""What the dataset service accepts: names and versions by the store's rules, bounded texts and lists.

A description is bounded because every manifest carries it twice (the field and the stored JSON),
and every GetDataset and ListVersions answer carries manifests: a few kB of description keeps those
answers small. Records sent as JSON are data, not names: any character, bounded by the message size.
"""

from __future__ import annotations

from octopack.common.validation import Rule, Rules, items, number, text
from octopack.datasets.names import NAME_RULE, check_name, check_version, parse_ref
from octopack.datasets.store import MAX_DESCRIPTION

P = "octopack.datasets.v1."
#: A version selector of a read: a version label, or "latest".
_SELECTOR = NAME_RULE.strip("^$")
_WRITER_ID = Rule(max_chars=64, pattern=r"[0-9a-f]{1,64}", hint="a writer id from CreateVersion")


_NAME = Rule(max_chars=63, check=check_name)
_READ_VERSION = Rule(max_chars=63, pattern=_SELECTOR, hint="a version such as v3 (or latest)")

RULES = Rules(fields={
    P + "CreateVersionRequest.name": _NAME,
    P + "CreateVersionRequest.version": Rule(max_chars=63, check=check_version),
    P + "CreateVersionRequest.parents": items(64, max_chars=200, check=parse_ref),
    P + "CreateVersionRequest.job_id": text(256),
    P + "CreateVersionRequest.description": text(MAX_DESCRIPTION, multiline=True),
    P + "WriteRecordsRequest.writer_id": _WRITER_ID,
    P + "JsonRecords.records": items(1_000_000, max_chars=64 * 1024 * 1024, raw=True),
    P + "CommitVersionRequest.writer_id": _WRITER_ID,
    P + "AbortVersionRequest.writer_id": _WRITER_ID,
    P + "GetDatasetRequest.name": _NAME,
    P + "GetDatasetRequest.version": _READ_VERSION,
    P + "ListVersionsRequest.name": _NAME,
    P + "ReadRecordsRequest.name": _NAME,
    P + "ReadRecordsRequest.version": _READ_VERSION,
    P + "ReadRecordsRequest.columns": items(10_000, max_chars=1024),
    P + "ReadRecordsRequest.batch_size": number(0, 100_000),
    P + "ReadRecordsRequest.limit": number(0),
    P + "DeleteVersionRequest.name": _NAME,
    P + "DeleteVersionRequest.version": Rule(max_chars=63, check=check_version),
})
