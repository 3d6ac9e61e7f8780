"""The Istio HTTP variant in deploy/istio/http: an `envoyExtAuthzHttp` extension provider
aimed at the chart's HTTP authorization port, and its CUSTOM AuthorizationPolicy, held to
the same checks as the gRPC provider's files (test_istio_manifests.py): Istio's CRD
schema for the policy, MeshConfig's field names for the provider, the Service the chart
renders with httpAuth.enabled.
"""

from __future__ import annotations

from .common import ISTIO_DIR, NAMESPACE, RELEASE
from .test_istio_manifests import crd_schema, seconds, validate_policy  # noqa: F401

HTTP_DIR = ISTIO_DIR / "http"
# MeshConfig.ExtensionProvider.EnvoyExternalAuthorizationHttpProvider (istio/api
# mesh/v1alpha1/config.proto), in the JSON names istiod reads.
HTTP_PROVIDER_FIELDS = {
    "service", "port", "timeout", "pathPrefix", "failOpen", "statusOnError",
    "headersToUpstreamOnAllow", "headersToDownstreamOnDeny", "headersToDownstreamOnAllow",
    "includeRequestHeadersInCheck", "includeAdditionalHeadersInCheck", "includeRequestBodyInCheck",
}
IDENTITY = {"x-cognito-sub", "x-cognito-client-id", "x-cognito-username", "x-cognito-scope",
            "x-cognito-groups", "x-cognito-route"}


def provider(yaml) -> dict:
    [document] = [d for d in yaml.safe_load_all((HTTP_DIR / "mesh-config.yaml").read_text()) if d]
    [entry] = document["spec"]["meshConfig"]["extensionProviders"]
    assert set(entry) == {"name", "envoyExtAuthzHttp"}
    return entry


def test_the_provider_reaches_the_envoy_endpoint_of_the_http_port(yaml, render):
    entry = provider(yaml)
    http = entry["envoyExtAuthzHttp"]
    assert set(http) <= HTTP_PROVIDER_FIELDS, f"unknown fields: {set(http) - HTTP_PROVIDER_FIELDS}"
    assert http["pathPrefix"] == "/envoy"
    assert http["failOpen"] is False and http["statusOnError"] == "503"
    assert 0 < seconds(http["timeout"]) <= 1
    assert set(http["headersToUpstreamOnAllow"]) == IDENTITY
    assert {"www-authenticate", "content-type"} <= set(http["headersToDownstreamOnDeny"])
    assert "authorization" in http["includeRequestHeadersInCheck"]
    service = render({"httpAuth": {"enabled": True}}).one("Service", RELEASE)
    assert http["service"] == f"{RELEASE}.{NAMESPACE}.svc.cluster.local"
    port = next(p for p in service["spec"]["ports"] if p["name"] == "http-auth")
    assert http["port"] == port["port"]


def test_the_policy_uses_it_and_is_valid_for_istios_crd(yaml, crd_schema, jsonschema):  # noqa: F811
    [policy] = [d for d in yaml.safe_load_all((HTTP_DIR / "authorization-policy.yaml").read_text()) if d]
    assert policy["spec"]["action"] == "CUSTOM"
    assert policy["spec"]["provider"] == {"name": provider(yaml)["name"]}
    assert policy["spec"]["rules"] == [{}]
    assert policy["spec"]["selector"]["matchLabels"]
    assert policy["metadata"]["namespace"] != NAMESPACE
    assert validate_policy(policy, crd_schema, jsonschema) == []


def test_the_ingress_nginx_example_copies_every_identity_header(yaml):
    from .common import REPO

    [ingress] = [d for d in yaml.safe_load_all((REPO / "deploy" / "ingress-nginx" / "ingress.yaml").read_text()) if d]
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/auth-url"] == (
        f"http://{RELEASE}.{NAMESPACE}.svc.cluster.local:9001/ingress-nginx")
    copied = {h.strip().lower() for h in notes["nginx.ingress.kubernetes.io/auth-response-headers"].split(",")}
    assert copied == IDENTITY
