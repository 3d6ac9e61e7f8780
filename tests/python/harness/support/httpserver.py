"""The threading HTTP server the harness's own servers (the key server, the echo upstream)
run on, sized for the bursts Envoy sends."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class LoopbackServer(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections under a burst of requests
    # (Envoy then answers 503 "UF"), which would be blamed on the system under test.
    request_queue_size = 256
    daemon_threads = True

    def start(self) -> None:
        """Serves from a daemon thread until `stop`."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
