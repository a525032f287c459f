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


class PermissionDenied(OctopackError):
    """The caller may not do this (a repository host outside the allowed ones, ...)."""

    code = "PERMISSION_DENIED"


class DeadlineExceeded(OctopackError):
    """A call to a dependency ran out of time."""

    code = "DEADLINE_EXCEEDED"


class Aborted(OctopackError):
    """A concurrent change won (a conditional write lost); retrying may succeed."""

    code = "ABORTED"


#: Codes whose failure may go away by itself: retry these with back-off.
TRANSIENT_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED"})
#: Codes that say the request itself is wrong: the same request fails the same way, so never retry it.
PERMANENT_CODES = frozenset(
    {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "PERMISSION_DENIED", "UNAUTHENTICATED"}
)

_BY_CODE: dict[str, type[OctopackError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument, NotFound, AlreadyExists, FailedPrecondition, ResourceExhausted, Unavailable,
        DataLoss, Cancelled, Unauthenticated, PermissionDenied, DeadlineExceeded, Aborted,
    )
}


def error_for_code(code: str, message: str) -> OctopackError:
    """The project's error for a status code name (``"NOT_FOUND"``); other codes keep their name."""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(message)
    err = OctopackError(message)
    err.code = code
    return err


def status_code(exc: BaseException) -> str | None:
    """The status code name an error carries: an :class:`OctopackError`'s, or a failed gRPC call's
    (``grpc.RpcError.code()``, read without importing grpc); None for any other exception."""
    if isinstance(exc, OctopackError):
        return exc.code
    code = getattr(exc, "code", None)
    if callable(code):
        try:
            value = code()
        except Exception:  # not an RPC error after all
            return None
        return str(getattr(value, "name", value))
    return None


def is_permanent(exc: BaseException) -> bool:
    """True when retrying cannot help: the error carries one of :data:`PERMANENT_CODES`.

    Errors without a status (a crashed process, a lost pod, a dead Ray task) and the other codes
    (the transient ones, INTERNAL, UNKNOWN, ...) may pass on another attempt.
    """
    return status_code(exc) in PERMANENT_CODES


def combined(message: str, codes: list[str]) -> OctopackError:
    """One error standing for several failures with status ``codes`` (every repository of a crawl):
    permanent when every one is (with their code when they share one), else UNAVAILABLE, retried."""
    if codes and all(code in PERMANENT_CODES for code in codes):
        return error_for_code(codes[0] if len(set(codes)) == 1 else "FAILED_PRECONDITION", message)
    return Unavailable(message)
