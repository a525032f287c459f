"""The one server interceptor: bearer-token check, request decoding and validation, per-RPC metrics
and error mapping.

Servicers have no try/except: an :class:`~octopack.common.errors.OctopackError`
becomes its own status code with its message; any other exception becomes
INTERNAL with a fixed message, and its traceback is logged. A request that does not
decode (corrupt bytes, a string field that is not UTF-8, nesting past protobuf's limit)
or breaks the server's :class:`~octopack.common.validation.Rules` is INVALID_ARGUMENT
before the servicer runs.
"""

from __future__ import annotations

import hmac
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from octopack.common.errors import InvalidArgument, OctopackError
from octopack.common.metrics import RPC_IN_FLIGHT, RPC_SECONDS, RPC_TOTAL
from octopack.common.validation import Rules

log = logging.getLogger(__name__)

#: Methods that never need a token: Kubernetes probes cannot send one, and grpcurl resolves every
#: method (health checks included) through reflection, which describes only the public protos.
PUBLIC_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
INTERNAL_MESSAGE = "internal error; the server log has the details"


class Undecodable:
    """Stands in for a request whose bytes did not decode; the handler wrapper refuses it."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def refusal(self) -> InvalidArgument:
        return InvalidArgument(f"the request is not a valid protobuf message of this method: {self.error}")


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler of the server (unary and streaming alike)."""

    def __init__(self, auth_token: str | None = None, rules: Rules | None = None) -> None:
        self._auth = f"Bearer {auth_token}" if auth_token else None
        self._rules = rules if rules is not None else Rules()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        needs_auth = self._auth is not None and not method.startswith(PUBLIC_PREFIXES)
        if needs_auth:
            given = dict(details.invocation_metadata or ()).get("authorization", "")
            assert self._auth is not None
            if not hmac.compare_digest(str(given), self._auth):
                return _wrap(handler, method, _unauthenticated, self._rules)
        return _wrap(handler, method, None, self._rules)


def _unauthenticated() -> OctopackError:
    from octopack.common.errors import Unauthenticated

    return Unauthenticated("missing or wrong bearer token: send 'authorization: Bearer <token>'")


async def _fail(exc: BaseException, method: str, context: grpc.aio.ServicerContext) -> None:
    if isinstance(exc, OctopackError):
        code = getattr(grpc.StatusCode, exc.code, grpc.StatusCode.INTERNAL)
        RPC_TOTAL.labels(method, code.name).inc()
        await context.abort(code, exc.message)
    log.exception("unhandled error in %s", method, exc_info=exc)
    RPC_TOTAL.labels(method, "INTERNAL").inc()
    await context.abort(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)


def _ok(method: str, context: grpc.aio.ServicerContext) -> None:
    code = context.code() if hasattr(context, "code") else None
    name = code.name if isinstance(code, grpc.StatusCode) else "OK"
    RPC_TOTAL.labels(method, name).inc()


def _decoder(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """A deserializer that never raises: gRPC would answer a raising one with a bare UNKNOWN."""
    if deserialize is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as exc:  # DecodeError, and whatever a hand-written deserializer raises
            return Undecodable(exc)

    return decode


def _accept(request: Any, rules: Rules) -> Any:
    """The request if it decoded and passes ``rules``; else the INVALID_ARGUMENT it deserves."""
    if isinstance(request, Undecodable):
        raise request.refusal()
    if hasattr(request, "DESCRIPTOR"):
        rules.check(request)
    return request


async def _accepted(requests: AsyncIterator[Any], rules: Rules) -> AsyncIterator[Any]:
    async for request in requests:
        yield _accept(request, rules)


def _wrap(
    handler: grpc.RpcMethodHandler, method: str, deny: Callable[[], OctopackError] | None, rules: Rules
) -> grpc.RpcMethodHandler:
    """Return a handler of the same shape whose behaviour is guarded and measured."""
    streamed_in = bool(handler.request_streaming)

    def checked(request: Any) -> Any:
        return _accepted(request, rules) if streamed_in else _accept(request, rules)

    def unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def run(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            RPC_IN_FLIGHT.labels(method).inc()
            try:
                if deny is not None:
                    raise deny()
                response = await behavior(checked(request), context)
                _ok(method, context)
                return response
            except grpc.aio.AbortError:
                RPC_TOTAL.labels(method, "ABORTED_BY_SERVICER").inc()
                raise
            except Exception as exc:
                await _fail(exc, method, context)
            finally:
                RPC_IN_FLIGHT.labels(method).dec()
                RPC_SECONDS.labels(method).observe(time.perf_counter() - start)

        return run

    def streaming(behavior: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
        async def run(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            start = time.perf_counter()
            RPC_IN_FLIGHT.labels(method).inc()
            try:
                if deny is not None:
                    raise deny()
                result = behavior(checked(request), context)
                if inspect.isasyncgen(result):
                    async for item in result:
                        yield item
                else:  # a coroutine that writes with context.write (e.g. health Watch)
                    await result
                _ok(method, context)
            except grpc.aio.AbortError:
                RPC_TOTAL.labels(method, "ABORTED_BY_SERVICER").inc()
                raise
            except Exception as exc:
                await _fail(exc, method, context)
            finally:
                RPC_IN_FLIGHT.labels(method).dec()
                RPC_SECONDS.labels(method).observe(time.perf_counter() - start)

        return run

    kwargs = {
        "request_deserializer": _decoder(handler.request_deserializer),
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), **kwargs)
    return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), **kwargs)
