"""The harness itself: the key server serves what the minted tokens need, the hostile
tokens really are what their names say, and the echo upstream reports faithfully.

These need no service binary, so they also run while it is being built.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import jwt
import pytest

from support import http, tokens
from support.keyserver import KeyServer
from support.upstream import EchoServer


def _fetch(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, {}


def test_minted_access_token_verifies_against_served_jwks() -> None:
    with KeyServer() as ks:
        pool = "ap-south-1_abcdefghi"
        ks.add_pool(pool)
        status, doc = _fetch(ks.jwks_uri(pool))
        assert status == 200 and len(doc["keys"]) == 2
        assert {k["alg"] for k in doc["keys"]} == {"RS256"} and {k["use"] for k in doc["keys"]} == {"sig"}
        token = tokens.access_token(ks.keys(pool)[0], ks.issuer(pool), scope="a/b c/d", groups=["g"])
        kid = jwt.get_unverified_header(token)["kid"]
        jwk = next(k for k in doc["keys"] if k["kid"] == kid)
        claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], issuer=ks.issuer(pool))
        assert claims["iss"] == "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_abcdefghi"
        assert claims["token_use"] == "access" and claims["scope"] == "a/b c/d"
        assert claims["cognito:groups"] == ["g"] and "aud" not in claims
        assert ks.fetches[pool] == 1


def test_keys_added_removed_and_failing_at_runtime() -> None:
    with KeyServer() as ks:
        pool = "us-west-2_rotation1"
        first = ks.add_pool(pool, keys=1)[0]
        new = ks.add_key(pool)
        assert [k["kid"] for k in _fetch(ks.jwks_uri(pool))[1]["keys"]] == [first.kid, new.kid]
        ks.remove_key(pool, first.kid)
        assert [k["kid"] for k in _fetch(ks.jwks_uri(pool))[1]["keys"]] == [new.kid]
        ks.set_failing(pool, 500)
        assert _fetch(ks.jwks_uri(pool))[0] == 500
        ks.set_failing(pool, None)
        assert _fetch(ks.jwks_uri(pool))[0] == 200
        assert _fetch(ks.jwks_uri("us-west-2_unknown00"))[0] == 404


def test_hostile_tokens_are_what_they_claim() -> None:
    key = tokens.SigningKey.generate("k1")
    iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abcdefghi"
    assert jwt.get_unverified_header(tokens.alg_none(iss))["alg"] == "none"
    assert tokens.alg_none(iss).endswith(".")
    hs = tokens.hs256_with_public_key(key, iss, scope="x")
    assert jwt.get_unverified_header(hs) == {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    # It is a correct HMAC under the public key PEM: exactly the confusion attack.
    import hashlib, hmac, base64
    signing_input, sig = hs.rsplit(".", 1)
    mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == sig
    expired = tokens.expired_access_token(key, iss)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired, key.public_pem(), algorithms=["RS256"])
    assert "exp" not in tokens.claims_of(tokens.access_token_without_exp(key, iss))
    good = tokens.access_token(key, iss, scope="a")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tokens.tampered(good, scope="a b"), key.public_pem(), algorithms=["RS256"])
    assert tokens.claims_of(tokens.id_token(key, iss))["token_use"] == "id"
    m2m = tokens.claims_of(tokens.client_credentials_token(key, iss, client_id="c1", scope="s/x"))
    assert m2m["sub"] == "c1" and "username" not in m2m and "cognito:groups" not in m2m
    hdr = jwt.get_unverified_header(tokens.with_embedded_jwk(key, iss))
    assert "jwk" in hdr and "jku" in hdr


def test_echo_upstream_reports_headers_and_raw_path() -> None:
    with EchoServer() as up:
        r = http.request(up.port, "/a/../b%2F?q=1", headers=[("x-cognito-sub", "1"), ("X-Two", "a"), ("x-two", "b")])
        seen = r.json()
        assert seen["path"] == "/a/../b%2F?q=1"
        assert seen["headers"]["x-cognito-sub"] == ["1"] and seen["headers"]["x-two"] == ["a", "b"]
        assert up.count() == 1


# --- one harness, used one way ------------------------------------------------------------


def _python_files() -> list:
    from support.tools import REPO

    roots = [REPO / "tests" / "python", REPO / "scripts", REPO / "deploy"]
    this = Path(__file__).resolve()
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts and p != this)


def test_the_harness_is_imported_as_an_installed_package() -> None:
    """scripts/setup.sh installs it (pip install -e): nobody edits sys.path to find it."""
    import support
    from support.tools import REPO

    assert support.__file__ == str(REPO / "tests" / "python" / "harness" / "support" / "__init__.py")
    offenders = [str(p) for p in _python_files() if "sys.path.insert" in p.read_text() or "sys.path.append" in p.read_text()]
    assert offenders == []


def test_processes_start_one_way_and_tools_are_found_one_way() -> None:
    """Long-running children go through support.procs.ManagedProcess, tool lookups through
    support.tools (so the missing-tool rule has one home)."""
    popen = [str(p) for p in _python_files() if "Popen(" in p.read_text() and p.name != "procs.py"]
    which = [str(p) for p in _python_files() if "shutil.which(" in p.read_text() and p.name != "tools.py"]
    rule = [str(p) for p in _python_files() if "pytest.skip(" in p.read_text() and p.name != "tools.py"]
    assert (popen, which, rule) == ([], [], [])
