"""A small HTTP/1.1 client that sends the request target exactly as written.

`requests`/urllib3 may rewrite a URL (dot segments, percent-encoding); the tests about
unsafe paths need `/files/..%2Fadmin` to leave this process byte for byte, so Envoy sees
what an attacker would send. One connection per request, with a timeout.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lowercased names; repeated headers joined with ", "
    body: bytes
    sent: dict = field(default_factory=dict)  # what was sent, for messages and the demo

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> object:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def describe(self) -> str:
        """One block saying what went out and what came back (for assertion messages)."""
        hs = "; ".join(f"{k}: {v}" for k, v in self.headers.items() if k in ("www-authenticate", "content-type"))
        return (
            f"{self.sent.get('method')} {self.sent.get('path')} -> {self.status} [{hs}] "
            f"{self.text[:300]!r}"
        )


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    host: str = "api.example.com",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    token: str | None = None,
    bearer: bool = True,
    body: bytes | None = None,
    timeout: float = 5.0,
    address: str = "127.0.0.1",
) -> Response:
    """Send one request to Envoy on `address:port`.

    `token` goes into `authorization` (as `Bearer <token>` unless `bearer=False`);
    `headers` may be a mapping or a list of pairs (to repeat a header).
    """
    pairs: list[tuple[str, str]] = [("host", host)]
    if token is not None:
        pairs.append(("authorization", f"Bearer {token}" if bearer else token))
    if headers:
        pairs.extend(headers.items() if isinstance(headers, Mapping) else headers)
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in pairs:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        merged: dict[str, str] = {}
        for name, value in resp.getheaders():
            n = name.lower()
            merged[n] = f"{merged[n]}, {value}" if n in merged else value
        return Response(resp.status, merged, data, {"method": method, "path": path, "headers": pairs})
    finally:
        conn.close()
