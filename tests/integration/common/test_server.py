"""The shared server bootstrap: health, reflection, error mapping, auth, metrics, TLS-less loopback."""

from __future__ import annotations

import asyncio
import json
import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from octopack.common import errors
from octopack.common.metrics import RPC_TOTAL
from octopack.common.server import RunningServer, Service, start_server
from octopack.common.settings import ServerSettings

pytestmark = pytest.mark.integration

SERVICE = "octopack.test.v1.Probe"


def _identity(b: bytes) -> bytes:
    return b


async def _raise(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    kind = request.decode()
    if kind == "ok":
        return b"fine"
    if kind == "invalid":
        raise errors.InvalidArgument("field 'x' must be positive")
    if kind == "missing":
        raise errors.NotFound("dataset 'nope' does not exist")
    raise RuntimeError("secret internal detail")


async def _stream(request: bytes, context: grpc.aio.ServicerContext):
    for i in range(3):
        yield str(i).encode()
    raise errors.FailedPrecondition("stream broke after 3 items")


def _register(server: grpc.aio.Server) -> None:
    handlers = {
        "Call": grpc.unary_unary_rpc_method_handler(_raise, _identity, _identity),
        "Stream": grpc.unary_stream_rpc_method_handler(_stream, _identity, _identity),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


async def _start(**overrides) -> RunningServer:
    settings = ServerSettings(host="127.0.0.1", port=0, **overrides)
    return await start_server(settings, [Service(SERVICE, _register)])


async def _call(address: str, payload: bytes, metadata=()) -> bytes:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = channel.unary_unary(f"/{SERVICE}/Call", _identity, _identity)
        return await stub(payload, metadata=metadata)


async def test_errors_map_to_status_codes() -> None:
    running = await _start()
    try:
        assert await _call(running.address, b"ok") == b"fine"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call(running.address, b"invalid")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "must be positive" in err.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call(running.address, b"missing")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call(running.address, b"boom")
        assert err.value.code() == grpc.StatusCode.INTERNAL
        assert "secret" not in err.value.details()
        method = f"/{SERVICE}/Call"
        assert RPC_TOTAL.labels(method, "NOT_FOUND")._value.get() >= 1
    finally:
        await running.stop(0)


async def test_stream_error_after_items() -> None:
    running = await _start()
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = channel.unary_stream(f"/{SERVICE}/Stream", _identity, _identity)
            got = []
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for item in stub(b""):
                    got.append(item)
            assert got == [b"0", b"1", b"2"]
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        await running.stop(0)


async def test_health_and_auth() -> None:
    running = await _start(auth_token="s3cret")
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            # Health needs no token: Kubernetes probes cannot send one.
            reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call(running.address, b"ok")
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call(running.address, b"ok", (("authorization", "Bearer wrong"),))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert await _call(running.address, b"ok", (("authorization", "Bearer s3cret"),)) == b"fine"
    finally:
        await running.stop(0)
        # After a graceful stop the server no longer answers.


async def test_grpcurl_lists_services_by_reflection(grpcurl: str) -> None:
    running = await _start()
    try:
        # The server runs on this event loop: run grpcurl in a thread so the loop keeps serving.
        out = await asyncio.to_thread(
            subprocess.run,
            [grpcurl, "-plaintext", running.address, "list"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        listed = set(out.stdout.split())
        assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= listed
        check = await asyncio.to_thread(
            subprocess.run,
            [
                grpcurl,
                "-plaintext",
                "-d",
                json.dumps({"service": SERVICE}),
                running.address,
                "grpc.health.v1.Health/Check",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stderr
        assert json.loads(check.stdout)["status"] == "SERVING"
    finally:
        await running.stop(0)
