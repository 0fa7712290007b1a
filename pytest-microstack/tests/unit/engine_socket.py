"""A tiny Docker engine on a unix socket: answers `/_ping`, `/version` and `/info`, nothing else.

For runs of pytest in a subprocess (pytester), which can't use the in-process
FakeEngine: they reach it through DOCKER_HOST, as they would a real engine.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            body, kind = b"OK", "text/plain"
        elif path.endswith("/version"):
            body, kind = json.dumps(self.server.version).encode(), "application/json"
        elif path.endswith("/info"):
            body, kind = json.dumps(self.server.info).encode(), "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a unix socket's client has no address to log."""


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    version: Mapping[str, Any]
    info: Mapping[str, Any]


@contextmanager
def engine_socket(
    path: Path, version: Mapping[str, Any], info: Mapping[str, Any] | None = None
) -> Iterator[str]:
    """Serve an engine answering `version` (and `info`) at the unix socket `path`; yields its DOCKER_HOST."""
    server = _Server(str(path), _Handler)
    server.version = version
    server.info = info or {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
