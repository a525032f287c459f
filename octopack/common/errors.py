"""Domain errors that own their gRPC status.

Domain code raises these and never imports grpc; the one interceptor in
:mod:`octopack.common.interceptors` turns them into status codes. Anything else
becomes INTERNAL with a fixed message and a logged traceback.
"""

from __future__ import annotations


class OctopackError(Exception):
    """Base class. ``code`` is the name of a ``grpc.StatusCode`` member."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(OctopackError):
    """The request is malformed; the message says which field and how to fix it."""

    code = "INVALID_ARGUMENT"


class NotFound(OctopackError):
    """A named thing (dataset, version, job, model) does not exist."""

    code = "NOT_FOUND"


class AlreadyExists(OctopackError):
    """A thing that must be created once already exists."""

    code = "ALREADY_EXISTS"


class FailedPrecondition(OctopackError):
    """The system is not in a state where the operation can run (e.g. committing a committed version)."""

    code = "FAILED_PRECONDITION"


class ResourceExhausted(OctopackError):
    """A queue or quota is full; retry later."""

    code = "RESOURCE_EXHAUSTED"


class Unavailable(OctopackError):
    """A dependency (object store, Ray, executor) cannot be reached."""

    code = "UNAVAILABLE"


class DataLoss(OctopackError):
    """Stored data is corrupt or missing (e.g. a shard whose checksum does not match)."""

    code = "DATA_LOSS"


class Cancelled(OctopackError):
    """The operation was cancelled."""

    code = "CANCELLED"


class Unauthenticated(OctopackError):
    """Missing or wrong bearer token."""

    code = "UNAUTHENTICATED"
