"""The protected application: an echo server.

Every request is answered 200 with JSON `{"method", "path", "headers"}` describing what
reached it (header names lowercased; a repeated header keeps every value), and is also
recorded in `requests`, so a test can prove a denied request never got here.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler

from .httpserver import LoopbackServer


class EchoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _echo(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                headers: dict[str, list[str]] = {}
                for name, value in self.headers.items():
                    headers.setdefault(name.lower(), []).append(value)
                seen = {"method": self.command, "path": self.path, "headers": headers}
                with server._lock:
                    server.requests.append(seen)
                data = json.dumps(seen).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("x-upstream", "echo")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _echo

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = LoopbackServer((host, port), Handler)
        self.host, self.port = self._httpd.server_address[:2]
        self._httpd.start()

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def stop(self) -> None:
        self._httpd.stop()

    def __enter__(self) -> "EchoServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
