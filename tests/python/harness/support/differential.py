"""Two policies, one request set: every request they answer differently.

The import oracle tests hold the policy imported from a source (a SAM template, a
serverless.yml) to the policy imported from what an authority makes of that source (the
CloudFormation `aws-sam-translator` or `serverless package` writes, an OpenAPI export of
it). Both are decided by the real binary's `test` command (`--answers` writes what it
answered each case), never by a model of ours.

`request_set` builds the requests from both policies: every HTTP method (OPTIONS too) on
every route path with sample parameters, their parent paths and a path no route has;
each with no token, and for every user pool of either policy an ID token, an access token
without any of the routes' scopes, one with each scope, and one with them all; plus tokens
of a pool neither policy trusts. A token is described by its claims (`iss` names its
pool), so it is the same token whichever policy decides it.

`differences(policy_a, policy_b)` returns what differs; a `Difference` says whether the
second policy (the one under test) allowed what the first (the reference) refused:
`fail_open`, the one failure an authorizer cannot afford.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from . import tools

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
OTHER_POOL = "eu-north-1_NotTrusted9"
UNROUTED = "/zz-no-such-resource"


@dataclass(frozen=True)
class Answer:
    """What one policy answered one request: status and the decision's reason label."""

    status: int
    reason: str

    @property
    def allowed(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class Difference:
    """One request the two policies answer differently."""

    case: str
    reference: Answer
    candidate: Answer

    @property
    def fail_open(self) -> bool:
        """The candidate allows what the reference refuses."""
        return self.candidate.allowed and not self.reference.allowed

    @property
    def fail_closed(self) -> bool:
        """The candidate refuses what the reference allows."""
        return self.reference.allowed and not self.candidate.allowed

    def __str__(self) -> str:
        kind = "FAIL-OPEN" if self.fail_open else "fail-closed" if self.fail_closed else "differs"
        return (
            f"{kind}: {self.case}: reference {self.reference.status} {self.reference.reason}, "
            f"candidate {self.candidate.status} {self.candidate.reason}"
        )


def load_policy(path: Path | str) -> dict[str, Any]:
    """A policy file (the YAML `import` writes) as data."""
    return yaml.safe_load(Path(path).read_text()) or {}


def _pools(policy: dict[str, Any]) -> list[str]:
    entries = list(policy.get("userPools") or [])
    for a in (policy.get("authorizers") or {}).values():
        entries.extend(a.get("userPools") or [])
    ids = []
    for e in entries:
        pid = e.get("id") or (e.get("arn") or "").rsplit("/", 1)[-1]
        if pid and pid not in ids:
            ids.append(pid)
    return ids


def _issuer(pool_id: str) -> str:
    return f"https://cognito-idp.{pool_id.split('_', 1)[0]}.amazonaws.com/{pool_id}"


def _scopes(policy: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for r in policy.get("routes") or []:
        for s in r.get("scopes") or []:
            if s not in out:
                out.append(s)
    return out


def sample_path(template: str) -> list[str]:
    """Requests for one route path: each `{name}` a sample segment, a greedy `{name+}` one
    segment and two."""
    one = re.sub(r"\{([^}+]+)\}", r"sample-\1", template)
    if "+}" not in one:
        return [one]
    return [re.sub(r"\{[^}]+\+\}", "p1", one), re.sub(r"\{[^}]+\+\}", "p1/p2", one)]


def request_paths(policies: Iterable[dict[str, Any]], extra: Iterable[str] = ()) -> list[str]:
    paths: list[str] = ["/", UNROUTED]
    for policy in policies:
        for r in policy.get("routes") or []:
            for p in sample_path(r["path"]):
                segments = p.strip("/").split("/")
                for i in range(1, len(segments) + 1):
                    prefix = "/" + "/".join(segments[:i])
                    if prefix not in paths:
                        paths.append(prefix)
                child = p.rstrip("/") + "/zz-child"
                if child not in paths:
                    paths.append(child)
    for p in extra:
        if p not in paths:
            paths.append(p)
    return paths


def tokens(policies: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any] | None]]:
    """Every token of the set, named: (label, the tests file's `token`, None = no token)."""
    pools: list[str] = []
    scopes: list[str] = []
    for p in policies:
        pools += [x for x in _pools(p) if x not in pools]
        scopes += [x for x in _scopes(p) if x not in scopes]
    out: list[tuple[str, dict[str, Any] | None]] = [("no token", None)]
    for pool in pools + [OTHER_POOL]:
        iss = _issuer(pool)
        out.append((f"ID token of {pool}", {"kind": "idToken", "claims": {"iss": iss}}))
        out.append(
            (
                f"access token of {pool} without the routes' scopes",
                {"kind": "accessToken", "claims": {"iss": iss}},
            )
        )
        if pool == OTHER_POOL:
            if scopes:
                out.append(
                    (
                        f"access token of {pool} with every scope",
                        {"kind": "accessToken", "claims": {"iss": iss, "scope": " ".join(scopes)}},
                    )
                )
            continue
        for s in scopes:
            out.append(
                (
                    f"access token of {pool} with scope {s}",
                    {"kind": "accessToken", "claims": {"iss": iss, "scope": s}},
                )
            )
        if len(scopes) > 1:
            out.append(
                (
                    f"access token of {pool} with every scope",
                    {"kind": "accessToken", "claims": {"iss": iss, "scope": " ".join(scopes)}},
                )
            )
    return out


def request_set(*policies: dict[str, Any], extra_paths: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The cases of a tests file for `test`: every method x path x token (see module doc).
    Expectations are placeholders: only the answers (`--answers`) are read."""
    cases = []
    toks = tokens(list(policies))
    for path in request_paths(policies, extra_paths):
        for method in METHODS:
            for label, token in toks:
                case: dict[str, Any] = {
                    "name": f"{method} {path} ({label})",
                    "request": {"method": method, "path": path},
                    "expect": {"status": 200},
                }
                if token is not None:
                    case["token"] = token
                cases.append(case)
    return cases


def binary() -> Path:
    """The cognito-ext-authz binary (`$AUTHZ_BIN`, release, else debug); missing: the rule."""
    return tools.require(
        "cognito-ext-authz", tools.service_binary(debug_build_too=True)
    )


def answers(policy: Path | str, cases: list[dict[str, Any]], exe: Path | None = None) -> dict[str, Answer]:
    """What the policy answers each case, by case name, from the binary's `test --answers`."""
    exe = exe or binary()
    with tempfile.TemporaryDirectory() as d:
        tests = Path(d) / "requests.yaml"
        out = Path(d) / "answers.json"
        # JSON is YAML: no anchors or aliases for shared token specs.
        tests.write_text(json.dumps({"tests": cases}))
        run = subprocess.run(
            [str(exe), "test", str(policy), str(tests), "--answers", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        # 0: every placeholder expectation met, 1: some not; 2: the run itself failed.
        if run.returncode not in (0, 1) or not out.is_file():
            raise RuntimeError(
                f"`test` on {policy} exited {run.returncode}:\n{run.stderr}\n{run.stdout[-4000:]}"
            )
        got = json.loads(out.read_text())
    result: dict[str, Answer] = {}
    for case, answer in zip(cases, got):
        if answer is None:
            raise RuntimeError(f"{policy}: case {case['name']!r} could not run: {run.stdout[-2000:]}")
        result[case["name"]] = Answer(answer["status"], answer["reason"])
    return result


def differences(
    reference: Path | str,
    candidate: Path | str,
    cases: list[dict[str, Any]] | None = None,
    exe: Path | None = None,
) -> list[Difference]:
    """Every request of `cases` (default: `request_set` of both policies) the two policy
    files answer differently."""
    if cases is None:
        cases = request_set(load_policy(reference), load_policy(candidate))
    a = answers(reference, cases, exe)
    b = answers(candidate, cases, exe)
    return [Difference(name, a[name], b[name]) for name in a if a[name] != b[name]]
