"""The shipped configurations name the same service, port, cluster and certificate names.

A platform engineer uncomments a block or copies a file as documented; if one file says
`cognito-ext-authz.authz.svc...` and the chart's Service is in `cognito-ext-authz`, every
request gets 503. Here the chart is rendered as documented (release and namespace
`cognito-ext-authz`, the headless Service on), and every Envoy, Istio and Envoy Gateway
file, NOTES.txt and docs/install.md is held to what it renders.
"""

from __future__ import annotations

import re

import pytest

from .common import ISTIO_DIR, NAMESPACE, REPO

ENVOY = REPO / "deploy" / "envoy" / "envoy.yaml"
ENVOY_GATEWAY = REPO / "deploy" / "envoy-gateway" / "security-policy.yaml"
INSTALL_DOC = REPO / "docs" / "install.md"
EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz"


@pytest.fixture(scope="module")
def documented(render):
    """What the documented install renders: Service names, FQDNs and the gRPC port."""
    r = render({"service": {"headless": {"enabled": True}}})
    services = {s["metadata"]["name"]: s for s in r.of_kind("Service")}
    fullname = r.deployment["metadata"]["name"]
    headless = f"{fullname}-headless"
    assert {fullname, headless} <= services.keys()
    [grpc] = [p for p in services[fullname]["spec"]["ports"] if p["name"] == "grpc"]
    return {
        "render": r,
        "name": fullname,
        "fqdn": f"{fullname}.{NAMESPACE}.svc.cluster.local",
        "headless_fqdn": f"{headless}.{NAMESPACE}.svc.cluster.local",
        "port": grpc["port"],
    }


def uncommented(text: str, name: str, yaml):
    block = re.search(rf"# BEGIN {re.escape(name)}\n(.*?)\n\s*# END {re.escape(name)}", text, re.S)
    assert block, f"no BEGIN/END {name} block"
    lines = [re.sub(r"^(\s*)# ?", r"\1", line, count=1) for line in block.group(1).splitlines()]
    return yaml.safe_load("\n".join(lines))


def documented_dns_names(yaml) -> list[str]:
    """The serving certificate's dnsNames in docs/install.md's cert-manager example."""
    for block in re.findall(r"```yaml\n(.*?)```", INSTALL_DOC.read_text(), re.S):
        for doc in yaml.safe_load_all(block):
            if isinstance(doc, dict) and doc.get("kind") == "Certificate" and \
                    "server auth" in doc["spec"].get("usages", []):
                return doc["spec"]["dnsNames"]
    pytest.fail("docs/install.md has no serving Certificate example")


def test_plain_envoy_names_the_cluster_endpoint_and_certificate_the_chart_makes(documented, yaml):
    text = ENVOY.read_text()
    cfg = yaml.safe_load(text)
    clusters = {c["name"]: c for c in cfg["static_resources"]["clusters"]}
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    [authz] = [f for f in hcm["http_filters"] if f["name"] == EXT_AUTHZ_FILTER]
    cluster_name = authz["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"]
    cluster = clusters[cluster_name]
    assert cluster["load_assignment"]["cluster_name"] == cluster_name
    [endpoint] = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    address = endpoint["endpoint"]["address"]["socket_address"]
    assert address == {"address": documented["headless_fqdn"], "port_value": documented["port"]}

    tls = uncommented(text, "upstream TLS", yaml)["transport_socket"]["typed_config"]
    dns_names = documented_dns_names(yaml)
    assert tls["sni"] in dns_names
    [san] = tls["common_tls_context"]["validation_context"]["match_typed_subject_alt_names"]
    assert san["matcher"]["exact"] in dns_names
    assert {documented["fqdn"], documented["headless_fqdn"]} == set(dns_names)

    # NOTES.txt and docs/install.md name the same cluster as the file.
    notes = documented["render"].notes
    assert f"cluster_name: {cluster_name}," in notes
    assert f'a cluster "{cluster_name}"' in notes
    assert documented["headless_fqdn"] in notes
    doc = INSTALL_DOC.read_text()
    assert re.search(rf"cluster_name:\s+{re.escape(cluster_name)}`", doc)
    assert f"- cluster `{cluster_name}`" in doc
    assert f"`{documented['headless_fqdn']}:{documented['port']}`" in doc


def test_istio_provider_names_the_service_and_every_policy_names_the_provider(documented, yaml):
    providers = []
    mesh = yaml.safe_load((ISTIO_DIR / "mesh-config.yaml").read_text())
    providers += mesh["spec"]["meshConfig"]["extensionProviders"]
    providers += yaml.safe_load((ISTIO_DIR / "istiod-values.yaml").read_text())["meshConfig"][
        "extensionProviders"]
    names = set()
    for provider in providers:
        grpc = provider["envoyExtAuthzGrpc"]
        assert (grpc["service"], grpc["port"]) == (documented["fqdn"], documented["port"])
        names.add(provider["name"])
    [name] = names
    notes = documented["render"].notes
    assert f"- name: {name}" in notes and f"service: {documented['fqdn']}" in notes

    policies = 0
    for path in sorted(ISTIO_DIR.glob("authorization-policy*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "AuthorizationPolicy" and \
                    doc["spec"].get("action") == "CUSTOM":
                assert doc["spec"]["provider"]["name"] == name, path.name
                policies += 1
    assert policies >= 3


def test_envoy_gateway_refers_to_the_service_and_is_granted_it(documented, yaml):
    docs = [d for d in yaml.safe_load_all(ENVOY_GATEWAY.read_text()) if d]
    [policy] = [d for d in docs if d["kind"] == "SecurityPolicy"]
    [grant] = [d for d in docs if d["kind"] == "ReferenceGrant"]
    [ref] = policy["spec"]["extAuth"]["grpc"]["backendRefs"]
    assert (ref["kind"], ref["name"], ref["namespace"], ref["port"]) == (
        "Service", documented["name"], NAMESPACE, documented["port"])
    assert grant["metadata"]["namespace"] == NAMESPACE
    [to] = grant["spec"]["to"]
    assert (to["kind"], to["name"]) == ("Service", documented["name"])
    [source] = grant["spec"]["from"]
    assert source["namespace"] == policy["metadata"]["namespace"]
    # The field is new in Envoy Gateway v1.6: the file and the install guide say so.
    if "timeout" in policy["spec"]["extAuth"]:
        assert "v1.6" in ENVOY_GATEWAY.read_text()
        assert "Envoy Gateway v1.6 or later" in INSTALL_DOC.read_text()


def test_install_guide_sections_are_numbered_once():
    headings = re.findall(r"^## (\d+[a-z]?)\. ", INSTALL_DOC.read_text(), re.M)
    assert len(headings) == len(set(headings)), headings
