"""Cognito-shaped tokens, good and deliberately bad.

`access_token` builds a user access token exactly as COGNITO.md shows it (no `aud`,
space-separated `scope`, optional `cognito:groups`); `client_credentials_token` the
machine-to-machine shape (`sub` == `client_id`, no username, no groups); `id_token` an ID
token (`token_use: id`, `aud`). The attack shapes (`alg_none`, `hs256_with_public_key`,
`tampered`, ...) are hand-assembled where PyJWT refuses to make them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt

from .keyserver import SigningKey

DEFAULT_CLIENT_ID = "4example23456789abcdefghij"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(obj: Any) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def sign(claims: dict, key: SigningKey, headers: dict | None = None, kid: str | None = None) -> str:
    """RS256-sign `claims` with `key` (header `kid` = key.kid unless `kid` is given)."""
    h = {"kid": kid if kid is not None else key.kid}
    h.update(headers or {})
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers=h)


def access_claims(
    issuer: str,
    *,
    scope: str = "",
    client_id: str = DEFAULT_CLIENT_ID,
    username: str | None = "alice",
    sub: str | None = None,
    groups: list[str] | None = None,
    lifetime: int = 3600,
    now: int | None = None,
    **extra: Any,
) -> dict:
    """The claims of a Cognito user access token (from the OAuth endpoints)."""
    now = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "sub": sub or str(uuid.uuid4()),
        "iss": issuer,
        "version": 2,
        "client_id": client_id,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": scope,
        "auth_time": now,
        "exp": now + lifetime,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    if username is not None:
        claims["username"] = username
    if groups is not None:
        claims["cognito:groups"] = groups
    claims.update(extra)
    return claims


def access_token(key: SigningKey, issuer: str, **kw: Any) -> str:
    return sign(access_claims(issuer, **kw), key)


def client_credentials_token(
    key: SigningKey, issuer: str, *, client_id: str = DEFAULT_CLIENT_ID, scope: str = "", lifetime: int = 3600
) -> str:
    """Machine-to-machine shape: sub == client_id, no username, no groups, ~10 claims."""
    now = int(time.time())
    claims = {
        "sub": client_id,
        "token_use": "access",
        "scope": scope,
        "auth_time": now,
        "iss": issuer,
        "exp": now + lifetime,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
    }
    return sign(claims, key)


def id_token(
    key: SigningKey, issuer: str, *, client_id: str = DEFAULT_CLIENT_ID, username: str = "alice", lifetime: int = 3600
) -> str:
    """An ID token: token_use=id, aud=client id. Never valid where an access token is."""
    now = int(time.time())
    claims = {
        "at_hash": _b64(hashlib.sha256(b"x").digest()[:16]),
        "sub": str(uuid.uuid4()),
        "email_verified": True,
        "iss": issuer,
        "cognito:username": username,
        "origin_jti": str(uuid.uuid4()),
        "aud": client_id,
        "event_id": str(uuid.uuid4()),
        "token_use": "id",
        "auth_time": now,
        "exp": now + lifetime,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "email": f"{username}@example.com",
    }
    return sign(claims, key)


def expired_access_token(key: SigningKey, issuer: str, *, ago: int = 600, **kw: Any) -> str:
    """Issued an hour before it expired, `ago` seconds in the past."""
    now = int(time.time())
    return sign(access_claims(issuer, now=now - ago - 3600, lifetime=3600, **kw), key)


def access_token_without_exp(key: SigningKey, issuer: str, **kw: Any) -> str:
    claims = access_claims(issuer, **kw)
    del claims["exp"]
    return sign(claims, key)


def alg_none(issuer: str, **kw: Any) -> str:
    """Unsigned: header alg "none", empty signature."""
    header = {"alg": "none", "typ": "JWT"}
    return f"{_b64json(header)}.{_b64json(access_claims(issuer, **kw))}."


def hs256_with_public_key(key: SigningKey, issuer: str, **kw: Any) -> str:
    """Algorithm confusion: HMAC-SHA256 keyed with the pool's *public* key PEM.

    A verifier that takes `alg` from the token and the public key as an HMAC secret
    would accept this. PyJWT refuses to make it, so it is assembled by hand.
    """
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{_b64json(header)}.{_b64json(access_claims(issuer, **kw))}"
    mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def with_alg(key: SigningKey, issuer: str, alg: str, **kw: Any) -> str:
    """Signed by the right key with another RSA algorithm (e.g. RS512, PS256)."""
    return jwt.encode(access_claims(issuer, **kw), key.private_key, algorithm=alg, headers={"kid": key.kid})


def tampered(token: str, **changes: Any) -> str:
    """Same header and signature, claims edited: the signature no longer matches."""
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64json(claims)}.{sig}"


def with_embedded_jwk(attacker: SigningKey, issuer: str, **kw: Any) -> str:
    """Signed by an attacker's key that the token itself carries (`jwk`, `jku` headers).

    The key set must come from configuration only, so this must be refused.
    """
    headers = {"jwk": attacker.public_jwk(), "jku": "http://127.0.0.1:9/jwks.json"}
    return sign(access_claims(issuer, **kw), attacker, headers=headers)


def claims_of(token: str) -> dict:
    """Decode without verifying (for assertions only)."""
    return jwt.decode(token, options={"verify_signature": False})
