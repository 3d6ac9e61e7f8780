"""deploy/envoy-gateway/security-policy.yaml: the Envoy Gateway SecurityPolicy.

Structural checks only: Envoy Gateway's SecurityPolicy CRD schema is not vendored here, so
the fields are checked against what the chart renders (the Service name, namespace and
gRPC port) and against the settings that matter (gRPC, fail closed, a timeout, every
request header sent), and the ReferenceGrant against the cross-namespace reference.
"""

from __future__ import annotations

import re

from .common import NAMESPACE, REPO

POLICY = REPO / "deploy" / "envoy-gateway" / "security-policy.yaml"


def docs(yaml):
    return list(yaml.safe_load_all(POLICY.read_text()))


def test_security_policy_points_at_the_charts_grpc_service(yaml, render):
    policy, grant = docs(yaml)
    assert policy["apiVersion"] == "gateway.envoyproxy.io/v1alpha1"
    assert policy["kind"] == "SecurityPolicy"
    assert set(policy["spec"]) == {"targetRefs", "extAuth"}
    ext = policy["spec"]["extAuth"]
    assert set(ext) <= {"failOpen", "timeout", "grpc", "http", "headersToExtAuth",
                        "headersToBackend", "bodyToExtAuth", "contextExtensions"}
    assert "http" not in ext, "the service speaks gRPC ext_authz"
    [ref] = ext["grpc"]["backendRefs"]
    service = render({}).one("Service", "cognito-ext-authz")
    assert ref["name"] == service["metadata"]["name"]
    assert ref["namespace"] == NAMESPACE == service["metadata"]["namespace"]
    [grpc_port] = [p for p in service["spec"]["ports"] if p["name"].startswith("grpc")]
    assert ref["port"] == grpc_port["port"]
    assert ref.get("kind", "Service") == "Service" and ref.get("group", "") == ""


def test_fails_closed_with_a_timeout_and_sends_every_header(yaml):
    ext = docs(yaml)[0]["spec"]["extAuth"]
    assert ext["failOpen"] is False
    assert re.fullmatch(r"\d+(ms|s)", ext["timeout"])
    assert "headersToExtAuth" not in ext, "forged identity headers must reach the service"


def test_reference_grant_allows_exactly_the_policys_reference(yaml):
    policy, grant = docs(yaml)
    assert grant["kind"] == "ReferenceGrant"
    assert grant["metadata"]["namespace"] == NAMESPACE
    [source] = grant["spec"]["from"]
    assert source == {"group": "gateway.envoyproxy.io", "kind": "SecurityPolicy",
                      "namespace": policy["metadata"]["namespace"]}
    [target] = grant["spec"]["to"]
    assert target["kind"] == "Service"
    assert target["name"] == policy["spec"]["extAuth"]["grpc"]["backendRefs"][0]["name"]


def test_install_doc_shows_it():
    text = (REPO / "docs" / "install.md").read_text()
    assert "deploy/envoy-gateway/security-policy.yaml" in text
