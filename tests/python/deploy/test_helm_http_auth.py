"""The chart's `httpAuth` values: the HTTP authorization port (AUTHZ_HTTP_AUTH_ADDR) off by
default, and with `httpAuth.enabled` the setting, the container port, the Service ports
(main and headless) and the NetworkPolicy rule that let gateways reach it.

Rendered with inline values, as test_helm_tls.py does.
"""

from __future__ import annotations

from .common import RELEASE

ON = {"httpAuth": {"enabled": True}}


def settings(r) -> dict[str, str]:
    return r.one("ConfigMap", f"{RELEASE}-settings")["data"]


def service_ports(r, name: str) -> dict[str, dict]:
    return {p["name"]: p for p in r.one("Service", name)["spec"]["ports"]}


def test_off_by_default(render):
    r = render({"service": {"headless": {"enabled": True}}})
    assert "AUTHZ_HTTP_AUTH_ADDR" not in settings(r)
    assert "http-auth" not in {p["name"] for p in r.container["ports"]}
    assert "http-auth" not in service_ports(r, RELEASE)
    assert "http-auth" not in service_ports(r, f"{RELEASE}-headless")


def test_enabled_exposes_the_port_end_to_end(render):
    r = render({**ON, "service": {"headless": {"enabled": True}}})
    assert settings(r)["AUTHZ_HTTP_AUTH_ADDR"] == "0.0.0.0:9001"
    (port,) = [p for p in r.container["ports"] if p["name"] == "http-auth"]
    assert port == {"name": "http-auth", "containerPort": 9001, "protocol": "TCP"}
    for service in (RELEASE, f"{RELEASE}-headless"):
        ports = service_ports(r, service)
        assert ports["http-auth"]["port"] == 9001, service
        assert ports["http-auth"]["targetPort"] == "http-auth", service
        assert ports["http-auth"]["appProtocol"] == "http", service
        assert "grpc" in ports, service


def test_ports_and_bind_address_follow_the_values(render):
    r = render({**ON, "containerPorts": {"grpc": 9000, "admin": 9090, "httpAuth": 8181},
                "service": {"httpAuthPort": 80}, "settings": {"bindAddress": "::"}})
    assert settings(r)["AUTHZ_HTTP_AUTH_ADDR"] == "[::]:8181"
    assert service_ports(r, RELEASE)["http-auth"]["port"] == 80


def test_the_network_policy_admits_the_gateways_on_it(render):
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]
    r = render({**ON, "networkPolicy": {"enabled": True, "grpcFrom": peers}})
    ingress = r.one("NetworkPolicy")["spec"]["ingress"]
    (checks,) = [rule for rule in ingress if {"port": "grpc", "protocol": "TCP"} in rule["ports"]]
    assert {"port": "http-auth", "protocol": "TCP"} in checks["ports"]
    assert checks["from"] == peers
    off = render({"networkPolicy": {"enabled": True}}).one("NetworkPolicy")["spec"]["ingress"]
    assert all({"port": "http-auth", "protocol": "TCP"} not in rule["ports"] for rule in off)


def test_the_schema_refuses_a_misspelt_switch(render):
    import pytest

    with pytest.raises(Exception, match="enable"):
        render({"httpAuth": {"enable": True}})
