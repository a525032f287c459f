"""Job documents in the project's S3 bucket with conditional writes.

Creation sends ``If-None-Match: *`` and each update ``If-Match: <etag>`` through
:class:`octopack.common.objectstore.ObjectStore`; SeaweedFS, MinIO and AWS S3
decide them atomically (measured for SeaweedFS in that module). The store
refuses to start on a server that ignores them, because a stale controller
could then overwrite a newer document.
"""

from __future__ import annotations

from octopack.common.errors import FailedPrecondition, NotFound
from octopack.common.objectstore import ConditionFailed, ObjectStore
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.store import Conflict, Stored, decode, encode


class S3Store:
    """One object per job: ``<prefix><id>.json``."""

    def __init__(self, objects: ObjectStore, prefix: str = "jobs/", check_conditional: bool = True) -> None:
        self.objects = objects
        self.prefix = prefix
        objects.ensure_bucket()
        if check_conditional and not objects.supports_conditional_put():
            raise FailedPrecondition(
                f"the S3 server at {objects.settings.host} ignores conditional writes (If-None-Match); "
                "use SeaweedFS, MinIO or AWS S3 for job documents"
            )

    def _key(self, job_id: str) -> str:
        return f"{self.prefix}{job_id}.json"

    def create(self, job: jobs_pb2.Job) -> str:
        try:
            return self.objects.put(self._key(job.id), encode(job), content_type="application/json", if_absent=True)
        except ConditionFailed as exc:
            raise Conflict(job.id) from exc

    def update(self, job: jobs_pb2.Job, etag: str) -> str:
        try:
            return self.objects.put(self._key(job.id), encode(job), content_type="application/json", if_match=etag)
        except ConditionFailed as exc:
            raise Conflict(job.id) from exc

    def get(self, job_id: str) -> Stored | None:
        try:
            data, etag = self.objects.get_with_etag(self._key(job_id))
        except NotFound:
            return None
        return Stored(decode(data), etag)

    def list_ids(self) -> list[str]:
        ids = []
        for info in self.objects.list(self.prefix, recursive=False):
            rest = info.key[len(self.prefix) :]
            if rest.endswith(".json") and "/" not in rest:
                ids.append(rest[: -len(".json")])
        return sorted(ids)
