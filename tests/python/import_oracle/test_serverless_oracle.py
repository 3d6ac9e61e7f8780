"""The Serverless Framework as the oracle for `import` of a `serverless.yml`.

What API Gateway receives for a Serverless service is the CloudFormation template
`serverless package` writes (Serverless v3, pinned in scripts/setup.sh, run offline with
dummy AWS credentials). For every Serverless definition of the corpus
(tests/fixtures/apigw/serverless-*.yml) this test packages it in a temporary service
folder, imports both the serverless.yml and the template, and holds the two policies to
identical answers over the generated request set of `support.differential` (every method
x every path with sample parameters x no token, ID tokens, access tokens with and without
each scope, a pool neither trusts). Any difference is a bug of one of the two readers.

Each fixture says how it is checked, on a `# oracle:` line:
- `serverless package`: the differential above. A fixture whose answers depend on the
  deployment's command line (`${opt:stage}` choosing a pool) also says
  `# oracle differs: fail-closed (CONSTRUCT)`: the direct import must then refuse where
  the packaged default allows, never the reverse, with a note naming CONSTRUCT.
- `direct reader only (...)`: variables only AWS resolves (`${ssm:}`, `${cf:}`,
  `${aws:accountId}`); `# oracle offline: VARIABLE = VALUE` lines give a value each, the
  oracle packages a copy with those values, and the direct import of the original may
  only refuse more than that oracle (never allow more), each refusal noted.

Besides the answers: the template's methods (read here from its `AWS::ApiGateway::Method`
and `Resource` tree, independently of the importer) are exactly the routes both imports
write, and `import --tests` of each fixture passes `test` against its own policy.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import differential, tools

FIXTURES = tools.REPO / "tests" / "fixtures" / "apigw"
NPM_TOOLS = tools.REPO / ".npm-tools"
SOURCES = sorted(FIXTURES.glob("serverless-*.yml"))


def serverless_cli() -> Path:
    """The pinned Serverless Framework v3 CLI scripts/setup.sh installs."""
    path = NPM_TOOLS / "node_modules" / ".bin" / "serverless"
    return tools.require(
        "serverless",
        path if path.is_file() else None,
        how="run scripts/setup.sh (installs serverless@3 into .npm-tools/ with npm)",
    )


def markers(source: Path) -> dict[str, list[str]]:
    """The fixture's `# oracle...:` header lines, by key."""
    out: dict[str, list[str]] = {}
    for line in source.read_text().splitlines():
        m = re.match(r"#\s*(oracle(?: [a-z]+)?):\s*(.*\S)", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def packaged(source: Path) -> bool:
    return markers(source)["oracle"] == ["serverless package"]


OFFLINE = [s for s in SOURCES if packaged(s)]


def package(text: str, plugins: list[str], workdir: Path) -> Path:
    """`serverless package` of a service whose serverless.yml is `text`, offline: the
    CloudFormation template it writes."""
    svc = workdir / "service"
    svc.mkdir(parents=True)
    (svc / "serverless.yml").write_text(text)
    # Packaging zips the service's files: it needs one, whatever the handlers' names.
    (svc / "handler.js").write_text("module.exports.handler = async () => ({});\n")
    for plugin in plugins:
        installed = NPM_TOOLS / "node_modules" / plugin
        assert installed.is_dir(), f"plugin {plugin} is not installed by scripts/setup.sh"
        (svc / "node_modules").mkdir(exist_ok=True)
        (svc / "node_modules" / plugin).symlink_to(installed)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLS_", "SERVERLESS_"))
    }
    env.update(
        AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY="dummy-secret-for-offline-packaging",
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        HOME=str(workdir),
    )
    run = subprocess.run(
        [str(serverless_cli()), "package"],
        cwd=svc,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    template = svc / ".serverless" / "cloudformation-template-update-stack.json"
    assert run.returncode == 0 and template.is_file(), (
        f"serverless package failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    )
    return template


def plugins_of(text: str) -> list[str]:
    doc = yaml.safe_load(text) or {}
    plugins = doc.get("plugins") or []
    if isinstance(plugins, dict):
        plugins = plugins.get("modules") or []
    return [p for p in plugins if isinstance(p, str)]


def import_policy(source: Path, out: Path, fmt: str | None = None) -> tuple[Path, str]:
    """`import` with the real binary: the policy file written, and the report."""
    args = [str(differential.binary()), "import", str(source)]
    if fmt:
        args += ["--format", fmt]
    run = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert run.returncode in (0, 3), f"import {source} exited {run.returncode}: {run.stderr}"
    out.write_text(run.stdout)
    return out, run.stderr


@functools.cache
def oracle_template(source: Path, work: Path) -> Path:
    text = source.read_text()
    for line in markers(source).get("oracle offline", []):
        variable, value = (s.strip() for s in line.split(" = ", 1))
        assert variable in text, f"{source.name}: {variable} is not in the file"
        text = text.replace(variable, value)
    return package(text, plugins_of(text), work / source.stem)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serverless-oracle")


def both_policies(source: Path, work: Path) -> tuple[Path, Path, str, str]:
    """(oracle policy, direct policy, oracle report, direct report)."""
    template = oracle_template(source, work)
    ref, ref_report = import_policy(template, work / f"{source.stem}.oracle.yaml", "cloudformation")
    cand, report = import_policy(source, work / f"{source.stem}.direct.yaml", "serverless")
    return ref, cand, ref_report, report


def test_the_corpus_is_large_and_every_definition_says_its_oracle() -> None:
    assert len(SOURCES) >= 12, [s.name for s in SOURCES]
    for s in SOURCES:
        kind = markers(s).get("oracle")
        assert kind and (
            kind == ["serverless package"] or kind[0].startswith("direct reader only (")
        ), f"{s.name}: no `# oracle:` line"
    assert len(OFFLINE) >= 10


def answerable(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cases real traffic can send: none carries a token of a placeholder pool (the
    pool `import` writes for an id only deployment knows: no such pool exists, and a
    policy holding one never becomes ready)."""
    return [
        c
        for c in cases
        if PLACEHOLDER not in json.dumps(c.get("token") or {})
    ]


PLACEHOLDER = "_UNRESOLVED"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_import_answers_as_the_packaged_template(source: Path, work: Path) -> None:
    if not packaged(source):
        assert markers(source).get("oracle offline"), (
            f"{source.name}: a direct-only definition needs `# oracle offline:` values"
        )
    ref, cand, _, report = both_policies(source, work)
    cases = answerable(
        differential.request_set(differential.load_policy(ref), differential.load_policy(cand))
    )
    diffs = differential.differences(ref, cand, cases)
    # Never an allow the oracle refuses.
    assert [d for d in diffs if d.fail_open] == [], "\n".join(map(str, diffs))
    declared = markers(source).get("oracle differs", [])
    if not declared:
        assert diffs == [], "\n".join(map(str, diffs))
        return
    # What only the deployment decides (its --stage, an SSM parameter) may differ: the
    # import refuses where the oracle's one resolution allows, and says why.
    assert [d for d in diffs if d.fail_closed], (
        f"{source.name} declares differences the oracle does not show"
    )
    for line in declared:
        construct = re.fullmatch(r"fail-closed \((.*)\)", line).group(1)
        assert construct in report and "[unresolved]" in report, report


def template_methods(template: Path) -> set[tuple[str, str]]:
    """(METHOD, path) of every `AWS::ApiGateway::Method` of a packaged template, its path
    rebuilt from the `AWS::ApiGateway::Resource` tree Serverless writes."""
    resources: dict[str, Any] = json.loads(template.read_text())["Resources"]

    def path_of(ref: Any) -> str:
        if isinstance(ref, dict) and "Fn::GetAtt" in ref:  # the REST API's root resource
            return ""
        res = resources[ref["Ref"]]["Properties"]
        return path_of(res["ParentId"]) + "/" + res["PathPart"]

    out = set()
    for r in resources.values():
        if r["Type"] == "AWS::ApiGateway::Method":
            p = r["Properties"]
            out.add((p["HttpMethod"].upper(), path_of(p["ResourceId"]) or "/"))
    return out


def policy_methods(policy: Path) -> set[tuple[str, str]]:
    out = set()
    for r in differential.load_policy(policy).get("routes") or []:
        for m in r.get("methods") or ["ANY"]:
            out.add((m.upper(), r["path"]))
    return out


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_both_imports_write_exactly_the_templates_methods(source: Path, work: Path) -> None:
    ref, cand, _, report = both_policies(source, work)
    methods = template_methods(oracle_template(source, work))
    assert methods, source.name
    assert policy_methods(ref) == methods
    if markers(source).get("oracle differs"):
        # A method whose path only deployment knows is left out, with a note.
        for method, path in methods - policy_methods(cand):
            assert "[unresolved]" in report, report
            assert path.rsplit("/", 1)[-1] in report, report
        assert policy_methods(cand) <= methods
    else:
        assert policy_methods(cand) == methods


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_refusal_import_writes_is_noted(source: Path, work: Path) -> None:
    """No method is refused silently: each `auth: deny` route and each placeholder pool
    has a note naming the method or the pool's source."""
    policy, report = import_policy(source, work / f"{source.stem}.notes.yaml")
    data = differential.load_policy(policy)
    for r in data.get("routes") or []:
        if r.get("auth") == "deny":
            for m in r.get("methods") or ["ANY"]:
                assert f"{m} {r['path']}" in report, f"{m} {r['path']} denied without a note:\n{report}"
    if "PLACEHOLDER" in policy.read_text():
        assert "[unresolved]" in report and "placeholder pool" in report, report


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_generated_policy_tests_pass(source: Path, tmp_path: Path) -> None:
    exe = str(differential.binary())
    tests = tmp_path / "tests.yaml"
    run = subprocess.run([exe, "import", str(source), "--tests", str(tests)], capture_output=True, text=True)
    assert run.returncode in (0, 3), run.stderr
    policy = tmp_path / "policy.yaml"
    policy.write_text(run.stdout)
    run = subprocess.run([exe, "test", str(policy), str(tests)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed, 0 failed" in run.stdout, run.stdout
