"""The Istio wiring in deploy/istio: extension provider and CUSTOM AuthorizationPolicy.

No Istio control plane runs here, so the manifests are parsed and their fields checked
against the Istio API (field names of MeshConfig.ExtensionProvider
.EnvoyExternalAuthorizationGrpcProvider and security.istio.io/v1 AuthorizationPolicy),
and against the Service the chart actually renders.
"""

from __future__ import annotations

import re

import pytest

from .common import ISTIO_DIR, NAMESPACE, RELEASE

PROVIDER_FIELDS = {"service", "port", "timeout", "failOpen", "statusOnError",
                   "includeRequestBodyInCheck"}
POLICY_SPEC_FIELDS = {"selector", "targetRef", "targetRefs", "action", "provider", "rules"}
RULE_FIELDS = {"from", "to", "when"}
DURATION = re.compile(r"^(\d+(\.\d+)?)(ms|s)$")


def seconds(duration: str) -> float:
    match = DURATION.match(duration)
    assert match, f"not a duration Istio accepts here: {duration!r}"
    value = float(match.group(1))
    return value / 1000 if match.group(3) == "ms" else value


@pytest.fixture(scope="module")
def mesh_config(yaml):
    [document] = [d for d in yaml.safe_load_all((ISTIO_DIR / "mesh-config.yaml").read_text()) if d]
    return document


@pytest.fixture(scope="module")
def providers(mesh_config):
    return {p["name"]: p for p in mesh_config["spec"]["meshConfig"]["extensionProviders"]}


@pytest.fixture(scope="module")
def authorization_policies(yaml):
    text = (ISTIO_DIR / "authorization-policy.yaml").read_text()
    documents = [d for d in yaml.safe_load_all(text) if d]
    assert documents
    return documents


def test_mesh_config_is_an_istio_operator(mesh_config):
    assert mesh_config["apiVersion"] == "install.istio.io/v1alpha1"
    assert mesh_config["kind"] == "IstioOperator"
    assert mesh_config["metadata"]["namespace"] == "istio-system"


def test_extension_provider_fails_closed_with_a_timeout(providers):
    grpc = providers["cognito-ext-authz"]["envoyExtAuthzGrpc"]
    assert set(grpc) <= PROVIDER_FIELDS, f"unknown fields: {set(grpc) - PROVIDER_FIELDS}"
    assert grpc["failOpen"] is False
    assert 0 < seconds(grpc["timeout"]) <= 1, "Istio's default is 600s: always set a short timeout"
    assert grpc["statusOnError"] == "503"
    assert set(providers["cognito-ext-authz"]) == {"name", "envoyExtAuthzGrpc"}


def test_extension_provider_points_at_the_charts_grpc_port(providers, render):
    grpc = providers["cognito-ext-authz"]["envoyExtAuthzGrpc"]
    service = render({}).one("Service", RELEASE)
    assert grpc["service"] == f"{RELEASE}.{NAMESPACE}.svc.cluster.local"
    assert grpc["service"].split(".")[:2] == [service["metadata"]["name"],
                                             service["metadata"]["namespace"]]
    grpc_port = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
    assert isinstance(grpc["port"], int) and grpc["port"] == grpc_port["port"]


def test_authorization_policies_use_the_provider(authorization_policies, providers):
    for policy in authorization_policies:
        name = policy["metadata"]["name"]
        assert policy["apiVersion"] == "security.istio.io/v1", name
        assert policy["kind"] == "AuthorizationPolicy", name
        assert policy["metadata"]["namespace"], name
        spec = policy["spec"]
        unknown = set(spec) - POLICY_SPEC_FIELDS
        assert not unknown, f"{name}: unknown fields {unknown}"
        assert spec["action"] == "CUSTOM", name
        assert spec["provider"] == {"name": "cognito-ext-authz"}, name
        assert spec["provider"]["name"] in providers, name


def test_authorization_policies_match_requests(authorization_policies):
    """A CUSTOM policy without rules matches nothing: requests would bypass the authorizer."""
    for policy in authorization_policies:
        rules = policy["spec"]["rules"]
        assert isinstance(rules, list) and rules, policy["metadata"]["name"]
        for rule in rules:
            assert isinstance(rule, dict) and set(rule) <= RULE_FIELDS, rule


def test_authorization_policies_never_select_the_authorizer(authorization_policies, render):
    pod_labels = render({}).deployment["spec"]["template"]["metadata"]["labels"]
    for policy in authorization_policies:
        spec = policy["spec"]
        selector = spec.get("selector", {}).get("matchLabels")
        assert selector or spec.get("targetRef") or spec.get("targetRefs"), (
            f"{policy['metadata']['name']}: a policy without a selector applies to every "
            "workload of its namespace (mesh-wide in istio-system)"
        )
        if selector:
            assert not all(pod_labels.get(k) == v for k, v in selector.items())
        assert policy["metadata"]["namespace"] != NAMESPACE


def test_readme_describes_both_files():
    readme = (ISTIO_DIR / "README.md").read_text()
    for text in ("mesh-config.yaml", "authorization-policy.yaml", "action", "CUSTOM",
                 "failOpen", "timeout", "cognito-ext-authz.cognito-ext-authz.svc.cluster.local"):
        assert text in readme, text
