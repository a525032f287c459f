"""Client-side helpers: channels with the same size limits, TLS and token as the servers."""

from __future__ import annotations

from pathlib import Path

import grpc

from octopack.common.errors import OctopackError, error_for_code

DEFAULT_MESSAGE_MB = 64


def channel_options(max_message_mb: int = DEFAULT_MESSAGE_MB) -> list[tuple[str, int]]:
    size = max_message_mb * 1024 * 1024
    return [("grpc.max_receive_message_length", size), ("grpc.max_send_message_length", size)]


def _credentials(token: str | None, ca_cert: Path | None) -> grpc.ChannelCredentials:
    creds = grpc.ssl_channel_credentials(ca_cert.read_bytes() if ca_cert else None)
    if token:
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    return creds


def aio_channel(
    target: str, token: str | None = None, ca_cert: Path | None = None, tls: bool = False
) -> grpc.aio.Channel:
    """An asyncio channel. Without TLS a token is sent as plain metadata by :func:`auth_metadata`."""
    if tls or ca_cert:
        return grpc.aio.secure_channel(target, _credentials(token, ca_cert), options=channel_options())
    return grpc.aio.insecure_channel(target, options=channel_options())


def sync_channel(
    target: str, token: str | None = None, ca_cert: Path | None = None, tls: bool = False
) -> grpc.Channel:
    """A blocking channel (CLI, benchmarks)."""
    if tls or ca_cert:
        return grpc.secure_channel(target, _credentials(token, ca_cert), options=channel_options())
    return grpc.insecure_channel(target, options=channel_options())


def auth_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """Metadata carrying a bearer token on an insecure (loopback) channel."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def error_from_rpc(exc: grpc.RpcError, service: str = "") -> OctopackError:
    """A failed call as the project's error (NOT_FOUND -> :class:`NotFound`, ...), on every client.

    ``service`` names the peer (``"executor at 127.0.0.1:50052"``); it prefixes the message of
    errors that concern the peer itself (unreachable, timed out) so the user knows which one.
    """
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
    name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    if name == "UNAVAILABLE" and service:
        details = f"{service} is unreachable: {details}"
    elif name in ("DEADLINE_EXCEEDED", "UNKNOWN", "INTERNAL") and service:
        details = f"{service}: {details}"
    return error_for_code(name, details)
