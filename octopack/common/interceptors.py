"""The one server interceptor: bearer-token check, per-RPC metrics and error mapping.

Servicers have no try/except: an :class:`~octopack.common.errors.OctopackError`
becomes its own status code with its message; any other exception becomes
INTERNAL with a fixed message, and its traceback is logged.
"""

from __future__ import annotations

import hmac
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from octopack.common.errors import OctopackError
from octopack.common.metrics import RPC_IN_FLIGHT, RPC_SECONDS, RPC_TOTAL

log = logging.getLogger(__name__)

#: Methods that never need a token: Kubernetes probes cannot send one.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/",)
INTERNAL_MESSAGE = "internal error; the server log has the details"


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler of the server (unary and streaming alike)."""

    def __init__(self, auth_token: str | None = None) -> None:
        self._auth = f"Bearer {auth_token}" if auth_token else None

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
                return _wrap(handler, method, _unauthenticated)
        return _wrap(handler, method, None)


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


def _wrap(
    handler: grpc.RpcMethodHandler, method: str, deny: Callable[[], OctopackError] | None
) -> grpc.RpcMethodHandler:
    """Return a handler of the same shape whose behaviour is guarded and measured."""

    def unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def run(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            RPC_IN_FLIGHT.labels(method).inc()
            try:
                if deny is not None:
                    raise deny()
                response = await behavior(request, context)
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
                result = behavior(request, context)
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
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), **kwargs)
    return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), **kwargs)
