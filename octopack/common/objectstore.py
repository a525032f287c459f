"""S3 object storage: one settings class and a thin wrapper over the ``minio`` client.

The same code talks to MinIO in a cluster and to SeaweedFS (``weed mini``, see
:mod:`octopack.common.s3server`) on one machine. Failures become the project's
errors: a missing key is :class:`NotFound`, an unreachable server is
:class:`Unavailable`, a failed condition of a conditional write is
:class:`ConditionFailed`.

Conditional writes: ``put(key, data, if_absent=True)`` sends ``If-None-Match: *``
and ``put(key, data, if_match=etag)`` sends ``If-Match: "<etag>"``. The server
decides atomically: of several writers racing on one key exactly one wins and
the others get HTTP 412. Measured on SeaweedFS 4.48 (``weed mini``): both headers
are honoured on PUT, also for concurrent writers (20 races of 8 writers with
``If-None-Match``, 20 of 6 compare-and-swap writers with ``If-Match``: exactly one
winner each); ``If-Match`` on a missing key fails too. AWS S3 and current MinIO
honour both as well. :meth:`ObjectStore.supports_conditional_put` probes a server
once, for stores that must refuse to run on one that ignores the headers.
"""

from __future__ import annotations

import builtins
import io
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from octopack.common.errors import FailedPrecondition, NotFound, OctopackError, Unavailable

log = logging.getLogger(__name__)

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING_CODES = {"NoSuchKey", "NoSuchObject", "NoSuchBucket", "NotFound", "ResourceNotFound"}


class S3Settings(BaseSettings):
    """Where the object store is and how to sign requests (``OCTOPACK_S3_*``)."""

    model_config = SettingsConfigDict(env_prefix="OCTOPACK_S3_", extra="ignore")

    endpoint: str = Field(
        "127.0.0.1:8333",
        description="host:port of the S3 API, or a URL (http:// or https://, which sets `secure`).",
    )
    access_key: str = Field("octopack", description="S3 access key id.")
    secret_key: str = Field("octopack-secret", repr=False, description="S3 secret access key.")
    bucket: str = Field("octopack", description="Bucket that holds every OctoPack object.")
    secure: bool = Field(False, description="Use HTTPS (also implied by an https:// endpoint).")
    region: str = Field("us-east-1", description="Region used to sign requests.")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, bucket: str) -> str:
        if not _BUCKET.fullmatch(bucket) or ".." in bucket:
            raise ValueError(
                f"bucket {bucket!r} is not a valid S3 bucket name: 3-63 characters of a-z, 0-9, '.', '-', "
                "starting and ending with a letter or digit"
            )
        return bucket

    @property
    def host(self) -> str:
        """``host:port`` without a scheme."""
        return self.endpoint.split("://", 1)[-1].rstrip("/")

    @property
    def use_tls(self) -> bool:
        return self.secure or self.endpoint.startswith("https://")

    @property
    def url(self) -> str:
        """The endpoint as a URL (what pandas, pyarrow and Ray need)."""
        return f"{'https' if self.use_tls else 'http'}://{self.host}"

    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options (pandas ``storage_options``, Ray Data, Hugging Face datasets)."""
        return {
            "key": self.access_key,
            "secret": self.secret_key,
            "client_kwargs": {"endpoint_url": self.url, "region_name": self.region},
        }

    def pyarrow_filesystem(self) -> Any:
        """A ``pyarrow.fs.S3FileSystem`` for this store (paths are ``bucket/key``)."""
        from pyarrow import fs

        return fs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            endpoint_override=self.host,
            scheme="https" if self.use_tls else "http",
            region=self.region,
        )


class ConditionFailed(FailedPrecondition):
    """A conditional write lost: the key exists (``if_absent``) or changed (``if_match``)."""


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object."""

    key: str
    size: int
    etag: str
    last_modified: datetime | None


class ObjectStore:
    """A bucket of an S3 server, with the few operations OctoPack needs."""

    def __init__(self, settings: S3Settings, client: Any = None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self._client = client or _make_client(settings)
        self._conditional: bool | None = None

    # -- buckets --------------------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (idempotent)."""
        with self._errors(f"bucket {self.bucket!r}"):
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket, location=self.settings.region)
                except Exception as exc:  # another process created it first
                    if getattr(exc, "code", "") not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise

    # -- objects --------------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        if_absent: bool = False,
        if_match: str | None = None,
    ) -> str:
        """Store ``data`` under ``key`` and return its ETag.

        ``if_absent`` writes only if the key does not exist; ``if_match`` only if its current
        ETag is the given one (compare-and-swap). A lost condition raises :class:`ConditionFailed`.
        """
        with self._errors(key):
            if not (if_absent or if_match):
                result = self._client.put_object(
                    self.bucket, key, io.BytesIO(data), len(data), content_type=content_type
                )
                return str(result.etag)
            headers = {"Content-Type": content_type}
            if if_absent:
                headers["If-None-Match"] = "*"
            if if_match:
                headers["If-Match"] = f'"{if_match.strip(chr(34))}"'
            # The public put_object turns unknown headers into x-amz-meta-*; the single-part
            # PUT below sends them as they are (minio 7.2).
            result = self._client._put_object(self.bucket, key, data, headers=headers)
            return str(result.etag)

    def get(self, key: str) -> bytes:
        """The whole object; :class:`NotFound` if it does not exist."""
        return self.get_with_etag(key)[0]

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        """The object and its ETag, for a later ``put(..., if_match=etag)``."""
        with self._errors(key):
            response = self._client.get_object(self.bucket, key)
            try:
                data = response.read()
                etag = str(response.headers.get("etag", "")).strip('"')
            finally:
                response.close()
                response.release_conn()
            return data, etag

    def stat(self, key: str) -> ObjectInfo | None:
        """Size, ETag and time of an object, or None if it does not exist."""
        try:
            with self._errors(key):
                obj = self._client.stat_object(self.bucket, key)
        except NotFound:
            return None
        return ObjectInfo(key, int(obj.size or 0), str(obj.etag or "").strip('"'), obj.last_modified)

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def list(self, prefix: str = "", *, recursive: bool = True) -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` in key order (non-recursive: also 'folders', ending in '/')."""
        with self._errors(prefix or "/"):
            for obj in self._client.list_objects(self.bucket, prefix=prefix, recursive=recursive):
                yield ObjectInfo(
                    str(obj.object_name),
                    int(obj.size or 0),
                    str(obj.etag or "").strip('"'),
                    obj.last_modified,
                )

    def list_prefixes(self, prefix: str) -> builtins.list[str]:
        """The names of the 'folders' directly under ``prefix`` (which should end in '/')."""
        names: builtins.list[str] = []
        for info in self.list(prefix, recursive=False):
            if info.key.endswith("/"):
                names.append(info.key[len(prefix) : -1])
        return names

    def delete(self, key: str) -> None:
        """Remove one object (a missing key is not an error)."""
        with self._errors(key):
            self._client.remove_object(self.bucket, key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; return how many."""
        from minio.deleteobjects import DeleteObject

        keys = [info.key for info in self.list(prefix)]
        with self._errors(prefix):
            for i in range(0, len(keys), 1000):
                errors = list(
                    self._client.remove_objects(self.bucket, [DeleteObject(k) for k in keys[i : i + 1000]])
                )
                if errors:
                    raise Unavailable(f"could not delete {len(errors)} objects under {prefix!r}: {errors[0]}")
        return len(keys)

    def copy(self, source: str, target: str) -> str:
        """Server-side copy of ``source`` to ``target`` in the same bucket; return the new ETag."""
        from minio.commonconfig import CopySource

        with self._errors(source):
            result = self._client.copy_object(self.bucket, target, CopySource(self.bucket, source))
            return str(result.etag).strip('"')

    def put_file(self, key: str, path: Path | str) -> str:
        """Upload a local file (multipart for large ones) without loading it whole; return the ETag."""
        with self._errors(key):
            return str(self._client.fput_object(self.bucket, key, str(path)).etag).strip('"')

    def get_file(self, key: str, path: Path | str) -> None:
        """Download an object to a local file (written to a temporary name, then renamed)."""
        with self._errors(key):
            self._client.fget_object(self.bucket, key, str(path))

    def list_keys(self, prefix: str = "") -> builtins.list[str]:
        """Every key under ``prefix`` (recursive), in order."""
        return [info.key for info in self.list(prefix)]

    # Short names used by byte-oriented callers (model registry, run records).
    def put_bytes(self, key: str, data: bytes) -> str:
        return self.put(key, data)

    def get_bytes(self, key: str) -> bytes:
        return self.get(key)

    def uri(self, key: str) -> str:
        """``s3://bucket/key`` for readers outside this class (pandas, pyarrow, Ray Data)."""
        return f"s3://{self.bucket}/{key}"

    url = uri

    def supports_conditional_put(self) -> bool:
        """Probe once whether the server refuses a second ``If-None-Match: *`` write."""
        if self._conditional is None:
            key = f"_probe/conditional-put-{uuid.uuid4().hex}"
            self.put(key, b"1", if_absent=True)
            try:
                self.put(key, b"2", if_absent=True)
                self._conditional = False
                log.warning("S3 server at %s ignores If-None-Match on PUT", self.settings.host)
            except ConditionFailed:
                self._conditional = True
            finally:
                self.delete(key)
        return self._conditional

    # -- errors ---------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate client and network failures into the project's errors."""
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError

        try:
            yield
        except OctopackError:
            raise
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                raise NotFound(
                    f"bucket {self.bucket!r} does not exist at {self.settings.url}: "
                    "check OCTOPACK_S3_BUCKET (writers create it)"
                ) from exc
            if exc.code in _MISSING_CODES:
                raise NotFound(f"s3://{self.bucket}/{what} does not exist ({exc.code})") from exc
            if exc.code == "PreconditionFailed":
                raise ConditionFailed(
                    f"conditional write of s3://{self.bucket}/{what} lost: it exists or changed"
                ) from exc
            raise Unavailable(f"S3 error on s3://{self.bucket}/{what}: {exc.code}: {exc.message}") from exc
        except (HTTPError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the real cause
            raise Unavailable(
                f"cannot reach the S3 server at {self.settings.url} ({reason}); "
                "check OCTOPACK_S3_ENDPOINT and that the server runs"
            ) from exc


def _make_client(settings: S3Settings, retries: int = 3) -> Any:
    import urllib3
    from minio import Minio

    # Few, quick retries: a store that is down should say so in seconds, not minutes.
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5, read=120),
        maxsize=16,
        retries=urllib3.Retry(
            total=retries, connect=min(retries, 2), backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
        ),
    )
    return Minio(
        settings.host,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        secure=settings.use_tls,
        region=settings.region,
        http_client=http,
    )
