"""The import held to authorities over the corpus in tests/fixtures/apigw/ (docs/import.md).

- Every SAM template: the policy imported from the template answers every request of the
  generated request set (support.differential) as the policy imported from what
  `aws-sam-translator` deploys for it; and each translated RestApi `Body`, exported as a
  standalone Swagger 2 and OpenAPI 3 document, answers as the translation does.
- Every CloudFormation / CDK-synthesized template with a Resource tree: it answers as its
  OpenAPI export (Swagger 2 and OpenAPI 3, made as API Gateway exports the same methods).
- Every OpenAPI definition: the Swagger 2 and OpenAPI 3 forms answer alike.
- Every definition: each `auth: deny` route (a fail-closed answer) is named by a note of
  the import, and the policy tests `import --tests` writes pass `test`.

Differences are listed with their direction; the count of answers compared is printed
(docs/import.md records it).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import differential
from support.tools import REPO

from . import exports, sam

CORPUS = REPO / "tests" / "fixtures" / "apigw"
ALL = sorted(p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
SAM = [p for p in ALL if p.name.startswith("sam-")]
TREES = [p for p in ALL if p.name.startswith(("cfn-", "cdk-"))]
OPENAPI = [p for p in ALL if p.name.startswith("openapi")]


@dataclass
class Imported:
    policy: Path
    code: int
    report: str

    @property
    def data(self) -> dict[str, Any]:
        return differential.load_policy(self.policy)


def run_import(source: Path, out: Path, extra: tuple[str, ...] = ()) -> Imported:
    r = subprocess.run(
        [str(differential.binary()), "import", str(source), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode in (0, 3), f"import {source.name} exited {r.returncode}: {r.stderr}"
    out.write_text(r.stdout)
    return Imported(out, r.returncode, r.stderr)


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=1))
    return path


def compare(reference: Imported, candidate: Imported, what: str) -> int:
    cases = differential.request_set(reference.data, candidate.data)
    diffs = differential.differences(reference.policy, candidate.policy, cases)
    assert not diffs, f"{what}: {len(diffs)} of {len(cases)} answers differ:\n" + "\n".join(
        str(d) for d in diffs[:40]
    )
    print(f"{what}: {len(cases)} answers compared, all equal")
    return len(cases)


def assert_fail_closed_is_named(imported: Imported, what: str) -> None:
    """Every `auth: deny` route is named, method and path, by a note of the import."""
    for route in imported.data.get("routes") or []:
        if route.get("auth") != "deny":
            continue
        method = (route.get("methods") or ["ANY"])[0]
        named = f"{method} {route['path']}"
        assert named in imported.report, f"{what}: the deny route {named} has no note:\n{imported.report}"


def assert_policy_tests_pass(source: Path, tmp: Path) -> None:
    tests = tmp / f"{source.stem}.tests.yaml"
    imported = run_import(source, tmp / f"{source.stem}.with-tests.yaml", ("--tests", str(tests)))
    r = subprocess.run(
        [str(differential.binary()), "test", str(imported.policy), str(tests)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, f"{source.name}: `test` of its imported tests: {r.stdout[-3000:]}{r.stderr}"


@pytest.mark.parametrize("fixture", SAM, ids=lambda p: p.name)
def test_a_sam_template_answers_as_sam_deploys_it(fixture: Path, tmp_path: Path) -> None:
    template = sam.load_template(fixture)
    assert sam.is_sam(template), fixture
    translated = sam.translate(template)
    reference = run_import(write(tmp_path / "translated.json", translated), tmp_path / "reference.yaml")
    candidate = run_import(fixture, tmp_path / "candidate.yaml")
    compare(reference, candidate, f"{fixture.name} against its translation")
    assert candidate.code == reference.code, (candidate.report, reference.report)
    assert_fail_closed_is_named(candidate, fixture.name)
    assert_policy_tests_pass(fixture, tmp_path)
    # Each deployed body, exported on its own as Swagger 2 and as OpenAPI 3.
    for api_id, body in exports.rest_api_bodies(translated).items():
        one = run_import(
            write(tmp_path / f"{api_id}.template.json", exports.only_api(translated, api_id)),
            tmp_path / f"{api_id}.reference.yaml",
        )
        for name, doc in (("swagger2", exports.as_swagger2(body)), ("openapi3", exports.as_openapi3(body))):
            exported = run_import(write(tmp_path / f"{api_id}.{name}.json", doc), tmp_path / f"{api_id}.{name}.yaml")
            compare(one, exported, f"{fixture.name}: {api_id} exported as {name}")


@pytest.mark.parametrize("fixture", TREES, ids=lambda p: p.name)
def test_a_resource_tree_answers_as_its_export(fixture: Path, tmp_path: Path) -> None:
    template = sam.load_template(fixture)
    candidate = run_import(fixture, tmp_path / "candidate.yaml")
    export = exports.export_resource_tree(template)
    for name, doc in (("swagger2", exports.as_swagger2(export)), ("openapi3", exports.as_openapi3(export))):
        exported = run_import(write(tmp_path / f"{name}.json", doc), tmp_path / f"{name}.yaml")
        compare(exported, candidate, f"{fixture.name} against its {name} export")
    assert_fail_closed_is_named(candidate, fixture.name)
    assert_policy_tests_pass(fixture, tmp_path)


@pytest.mark.parametrize("fixture", OPENAPI, ids=lambda p: p.name)
def test_an_openapi_export_answers_alike_in_both_versions(fixture: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load(fixture.read_text())
    candidate = run_import(fixture, tmp_path / "candidate.yaml")
    other = exports.as_openapi3(doc) if "swagger" in doc else exports.as_swagger2(doc)
    converted = run_import(write(tmp_path / "other.json", other), tmp_path / "other.yaml")
    compare(converted, candidate, f"{fixture.name} against its other OpenAPI version")
    assert_fail_closed_is_named(candidate, fixture.name)
    assert_policy_tests_pass(fixture, tmp_path)


def test_the_corpus_covers_the_shapes_teams_write() -> None:
    assert len(SAM) >= 10 and len(TREES) >= 3 and len(OPENAPI) >= 3, (SAM, TREES, OPENAPI)
    text = "\n".join(p.read_text() for p in SAM)
    for shape in (
        "AddDefaultAuthorizerToCorsPreflight: false",
        "MergeDefinitions: true",
        "DefinitionBody",
        "Authorizer: NONE",
        "AuthorizationScopes: []",
        "DefinitionUri",
        "FunctionArn",
    ):
        assert shape in text, shape
