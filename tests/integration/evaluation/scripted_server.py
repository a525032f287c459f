"""A real HTTP server on a loopback port whose answers a test scripts (status codes, bodies, delays).

It stands in for a remote OpenAI-compatible server where a test needs behaviour a real model
server cannot be made to show on demand: rate limits, outages, wrong routes, answers that are
known to be right.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: (status, JSON body or raw bytes, extra headers)
Answer = tuple[int, Any, dict[str, str]]
Handler = Callable[[str, str, dict[str, Any] | None], Answer]


@dataclass
class Scripted:
    """Answers come from ``handler(method, path, body)``; every request is recorded."""

    handler: Handler
    requests: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@contextmanager
def scripted_server(handler: Handler) -> Iterator[Scripted]:
    state = Scripted(handler)
    lock = threading.Lock()

    class Handle(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size) if size else b""
            body = json.loads(raw) if raw else None
            with lock:
                state.requests.append((self.command, self.path, body, dict(self.headers)))
            status, payload, headers = state.handler(self.command, self.path, body)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def models(*names: str) -> Answer:
    return 200, {"object": "list", "data": [{"id": n, "object": "model"} for n in names]}, {}


def error(status: int, message: str, **headers: str) -> Answer:
    return status, {"error": {"message": message, "type": "x", "param": None, "code": None}}, headers
