"""Shared fixtures for the deployment checks: the Helm chart, the Istio manifests, the image.

The chart is rendered offline with helm-python-sdk (Helm's Go SDK behind a C ABI, no helm
binary) and the result checked against the Kubernetes API schemas of kubernetes-validate.
A missing tool follows the one rule of support.tools (docs/testing.md): the test fails,
or skips loudly when AUTHZ_TESTS_ALLOW_MISSING_TOOLS=1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from .common import CHART_DIR, NAMESPACE, RELEASE, VALUES_DIR, require_module


@pytest.fixture(scope="session")
def yaml() -> ModuleType:
    return require_module("yaml", "PyYAML")


@pytest.fixture(scope="session")
def helm() -> ModuleType:
    return require_module("helm_python", "helm-python-sdk")


@pytest.fixture(scope="session")
def kubernetes_validate() -> ModuleType:
    return require_module("kubernetes_validate", "kubernetes-validate")


@pytest.fixture(scope="session")
def jsonschema() -> ModuleType:
    return require_module("jsonschema", "jsonschema")


@pytest.fixture(scope="session")
def chart(helm):
    loaded = helm.Chart.load(CHART_DIR)
    yield loaded
    loaded.close()


@dataclass
class Rendered:
    """One `helm template` of the chart: the parsed objects, and the NOTES.txt text."""

    values: dict[str, Any]
    merged: dict[str, Any]
    objects: list[dict[str, Any]]
    notes: str
    files: dict[str, str] = field(repr=False)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment")

    @property
    def pod_spec(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def container(self) -> dict[str, Any]:
        containers = self.pod_spec["containers"]
        assert len(containers) == 1
        return containers[0]


@pytest.fixture(scope="session")
def load_values(yaml):
    def load(name: str) -> dict[str, Any]:
        data = yaml.safe_load((VALUES_DIR / f"{name}.yaml").read_text())
        return data or {}

    return load


@pytest.fixture(scope="session")
def render(chart, yaml):
    """Render the chart with `values` as the documented release; returns a Rendered."""

    def do_render(values: dict[str, Any] | None = None, *, name: str = RELEASE,
                  namespace: str = NAMESPACE) -> Rendered:
        values = values or {}
        files = chart.render(values, name=name, namespace=namespace, is_install=True)
        objects: list[dict[str, Any]] = []
        notes = ""
        for path, text in sorted(files.items()):
            if path.endswith("NOTES.txt"):
                notes = text
                continue
            for document in yaml.safe_load_all(text):
                if document:
                    objects.append(document)
        return Rendered(values=values, merged=chart.merge_values(values), objects=objects,
                        notes=notes, files=files)

    return do_render
