"""A local, Cognito-shaped JWKS host.

Cognito publishes each user pool's keys at `{issuer}/.well-known/jwks.json` where the
issuer is `https://cognito-idp.{region}.amazonaws.com/{poolId}`. This server answers
`GET /{poolId}/.well-known/jwks.json` on 127.0.0.1 with the same document shape (RSA,
RS256, `use: sig`, two keys per pool: one for access tokens, one for ID tokens), so a
policy only needs `jwksUri: http://127.0.0.1:PORT/{poolId}/.well-known/jwks.json` while
tokens keep the real Cognito issuer.

Keys can be added (rotation) and removed at run time, a pool can be made to fail
(HTTP 500), and every fetch is counted, so tests can watch the service's refetch rules.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .httpserver import LoopbackServer


def _b64url_uint(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def cognito_issuer(pool_id: str) -> str:
    """The issuer Cognito puts in `iss` for a pool (region = the part before '_')."""
    region = pool_id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


@dataclass
class SigningKey:
    """An RSA key pair with a `kid`, as a pool holds it."""

    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def generate(cls, kid: str | None = None) -> "SigningKey":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # Cognito kids are base64 of a hash; any opaque string does here.
        return cls(kid or base64.b64encode(uuid.uuid4().bytes).decode(), key)

    def public_jwk(self) -> dict:
        nums = self.private_key.public_key().public_numbers()
        return {
            "alg": "RS256",
            "e": _b64url_uint(nums.e),
            "kid": self.kid,
            "kty": "RSA",
            "n": _b64url_uint(nums.n),
            "use": "sig",
        }

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class KeyServer:
    """A `LoopbackServer` on 127.0.0.1:<free port> serving each pool's JWKS."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, list[SigningKey]] = {}
        self._failing: dict[str, int] = {}
        self._delay: dict[str, float] = {}
        self.fetches: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                status, body = server._answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        self._httpd = LoopbackServer((host, port), Handler)
        self.host, self.port = self._httpd.server_address[:2]
        self._httpd.start()

    # --- pools and keys -------------------------------------------------------------

    def add_pool(self, pool_id: str, keys: int = 2) -> list[SigningKey]:
        """Create a pool with `keys` fresh keys (Cognito has two: access and ID)."""
        new = [SigningKey.generate() for _ in range(keys)]
        with self._lock:
            self._pools[pool_id] = list(new)
            self.fetches.setdefault(pool_id, 0)
        return new

    def add_key(self, pool_id: str, key: SigningKey | None = None) -> SigningKey:
        key = key or SigningKey.generate()
        with self._lock:
            self._pools[pool_id].append(key)
        return key

    def remove_key(self, pool_id: str, kid: str) -> None:
        with self._lock:
            self._pools[pool_id] = [k for k in self._pools[pool_id] if k.kid != kid]

    def keys(self, pool_id: str) -> list[SigningKey]:
        with self._lock:
            return list(self._pools[pool_id])

    def set_failing(self, pool_id: str, status: int | None) -> None:
        """Answer `status` (e.g. 500) for this pool's JWKS until called with None."""
        with self._lock:
            if status is None:
                self._failing.pop(pool_id, None)
            else:
                self._failing[pool_id] = status

    def set_delay(self, pool_id: str, seconds: float) -> None:
        """Answer this pool's JWKS only after `seconds` (0: at once)."""
        with self._lock:
            self._delay[pool_id] = seconds

    def jwks(self, pool_id: str) -> dict:
        with self._lock:
            return {"keys": [k.public_jwk() for k in self._pools[pool_id]]}

    # --- addresses ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def jwks_uri(self, pool_id: str) -> str:
        return f"{self.base_url}/{pool_id}/.well-known/jwks.json"

    @staticmethod
    def issuer(pool_id: str) -> str:
        return cognito_issuer(pool_id)

    # --- serving --------------------------------------------------------------------

    def _answer(self, path: str) -> tuple[int, dict]:
        parts = path.split("?", 1)[0].strip("/").split("/")
        if parts:
            with self._lock:
                delay = self._delay.get(parts[0], 0.0)
            if delay:
                time.sleep(delay)
        if len(parts) == 3 and parts[1:] == [".well-known", "jwks.json"]:
            pool_id = parts[0]
            with self._lock:
                if pool_id in self._pools:
                    self.fetches[pool_id] = self.fetches.get(pool_id, 0) + 1
                    if pool_id in self._failing:
                        return self._failing[pool_id], {"message": "InternalErrorException"}
                    return 200, {"keys": [k.public_jwk() for k in self._pools[pool_id]]}
        return 404, {"message": "Not Found"}

    def stop(self) -> None:
        self._httpd.stop()

    def __enter__(self) -> "KeyServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
