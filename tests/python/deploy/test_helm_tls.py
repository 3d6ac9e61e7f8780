"""The chart's `tls` values: a Secret mounted as a folder, the three AUTHZ_TLS_* variables,
and probes that keep working when the gRPC port speaks TLS or mTLS.

Rendered with inline values (not a file in values/, whose renders the general chart tests
hold to the plaintext probe and settings).
"""

from __future__ import annotations

import pytest

from .common import CHART_DIR, KUBE_VERSION, NAMESPACE, RELEASE

TLS = {"tls": {"enabled": True, "secretName": "authz-grpc-tls"}}
MTLS = {"tls": {"enabled": True, "secretName": "authz-grpc-tls", "clientAuth": {"enabled": True}}}
MTLS_OWN_CA = {
    "tls": {
        "enabled": True,
        "secretName": "authz-grpc-tls",
        "clientAuth": {"enabled": True, "secretName": "envoy-client-ca", "caKey": "ca.pem"},
    }
}


def settings(r) -> dict[str, str]:
    return r.one("ConfigMap", f"{RELEASE}-settings")["data"]


def mounts(r) -> dict[str, dict]:
    return {m["name"]: m for m in r.container["volumeMounts"]}


def volumes(r) -> dict[str, dict]:
    return {v["name"]: v for v in r.pod_spec["volumes"]}


def test_plaintext_by_default(render):
    r = render({})
    assert not any(k.startswith("AUTHZ_TLS_") for k in settings(r))
    assert "tls" not in volumes(r)
    assert "grpc" in r.container["readinessProbe"]


def test_tls_mounts_the_secret_as_a_folder_and_sets_cert_and_key(render):
    r = render(TLS)
    data = settings(r)
    assert data["AUTHZ_TLS_CERT_FILE"] == "/etc/cognito-ext-authz-tls/tls.crt"
    assert data["AUTHZ_TLS_KEY_FILE"] == "/etc/cognito-ext-authz-tls/tls.key"
    assert "AUTHZ_TLS_CLIENT_CA_FILE" not in data
    mount = mounts(r)["tls"]
    # A folder, never a subPath: the kubelet's `..data` swap must reach the service.
    assert mount == {"name": "tls", "mountPath": "/etc/cognito-ext-authz-tls", "readOnly": True}
    assert volumes(r)["tls"]["secret"]["secretName"] == "authz-grpc-tls"


@pytest.mark.parametrize("values", [TLS, MTLS, MTLS_OWN_CA], ids=["tls", "mtls", "mtls-own-ca"])
def test_under_tls_readiness_asks_the_admin_port(render, values):
    """Kubelet gRPC probes speak neither TLS nor mTLS: readiness moves to /readyz (the same
    answer as gRPC health); liveness and startup were on /healthz already."""
    c = render(values).container
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-admin"}
    assert "grpc" not in c["readinessProbe"]
    for probe in ("startupProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "http-admin"}


def test_mtls_takes_the_client_ca_from_the_serving_secret_or_its_own(render):
    r = render(MTLS)
    assert settings(r)["AUTHZ_TLS_CLIENT_CA_FILE"] == "/etc/cognito-ext-authz-tls/ca.crt"
    assert "tls-client-ca" not in volumes(r)

    r = render(MTLS_OWN_CA)
    assert settings(r)["AUTHZ_TLS_CLIENT_CA_FILE"] == "/etc/cognito-ext-authz-client-ca/ca.pem"
    assert volumes(r)["tls-client-ca"]["secret"]["secretName"] == "envoy-client-ca"
    assert mounts(r)["tls-client-ca"]["mountPath"] == "/etc/cognito-ext-authz-client-ca"
    assert "subPath" not in mounts(r)["tls-client-ca"]


def test_turning_tls_on_rolls_the_pods(render):
    checksum = lambda r: r.deployment["spec"]["template"]["metadata"]["annotations"]["checksum/settings"]  # noqa: E731
    assert checksum(render({})) != checksum(render(TLS)) != checksum(render(MTLS))


@pytest.mark.parametrize(
    "values, message",
    [
        ({"tls": {"enabled": True}}, "secretName"),
        ({"tls": {"clientAuth": {"enabled": True}}}, "tls.enabled"),
        ({"tls": {"enabled": True, "secretName": "s", "certKey": "../etc/passwd"}}, "certKey"),
        ({"tls": {"enabeld": True}}, "enabeld"),
    ],
)
def test_incomplete_or_misspelt_tls_values_are_refused(helm, render, values, message):
    with pytest.raises(helm.HelmError, match=message):
        render(values)


@pytest.mark.parametrize("values", [TLS, MTLS_OWN_CA], ids=["tls", "mtls-own-ca"])
def test_tls_renders_are_lint_clean_and_valid_for_kubernetes(helm, render, kubernetes_validate, values):
    report = helm.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}")
    assert not [m for m in report["messages"] if m["severity"] >= 2], report["messages"]
    assert not report["errors"], report["errors"]
    for obj in render(values).objects:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
