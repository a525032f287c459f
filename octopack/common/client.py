"""Client-side helpers: channels with the same size limits, TLS and token as the servers."""

from __future__ import annotations

from pathlib import Path

import grpc

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
