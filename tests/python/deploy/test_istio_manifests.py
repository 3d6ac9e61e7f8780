"""The Istio wiring in deploy/istio: extension provider and CUSTOM AuthorizationPolicies.

No Istio control plane runs here. Every AuthorizationPolicy is validated against Istio's
published CRD schema (schemas/authorizationpolicy-security-istio-io-v1.json, the
openAPIV3Schema of istio/api's kubernetes/customresourcedefinitions.gen.yaml) as the API
server would: unknown fields refused (strict field validation), and each of the CRD's
x-kubernetes-validations (CEL) rules evaluated. The provider is checked against the field
names of MeshConfig's EnvoyExternalAuthorizationGrpcProvider, and against the Service the
chart actually renders.
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from .common import CHART_DIR, ISTIO_DIR, NAMESPACE, RELEASE, REPO, SCHEMAS_DIR

# MeshConfig.ExtensionProvider.EnvoyExternalAuthorizationGrpcProvider (istio/api
# mesh/v1alpha1/config.proto), in the JSON names istiod reads.
PROVIDER_FIELDS = {"service", "port", "timeout", "failOpen", "statusOnError",
                   "includeRequestBodyInCheck", "clearRouteCache"}
RULE_FIELDS = {"from", "to", "when"}
DURATION = re.compile(r"^(\d+(\.\d+)?)(ms|s)$")
POLICY_FILES = sorted(ISTIO_DIR.glob("authorization-policy*.yaml"))


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
def istiod_values(yaml):
    return yaml.safe_load((ISTIO_DIR / "istiod-values.yaml").read_text())


@pytest.fixture(scope="module")
def policies_by_file(yaml):
    found = {}
    for path in POLICY_FILES:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert documents, path.name
        found[path.name] = documents
    assert set(found) == {"authorization-policy.yaml", "authorization-policy-gateway-api.yaml",
                          "authorization-policy-waypoint.yaml"}
    return found


@pytest.fixture(scope="module")
def authorization_policies(policies_by_file):
    return [d for documents in policies_by_file.values() for d in documents]


def test_mesh_config_is_an_istio_operator_overlay(mesh_config):
    assert mesh_config["apiVersion"] == "install.istio.io/v1alpha1"
    assert mesh_config["kind"] == "IstioOperator"
    assert mesh_config["metadata"]["namespace"] == "istio-system"
    # Nothing but the provider: it is merged into the operator's own file, never applied.
    assert set(mesh_config["spec"]) == {"meshConfig"}
    assert set(mesh_config["spec"]["meshConfig"]) == {"extensionProviders"}
    header = (ISTIO_DIR / "mesh-config.yaml").read_text().split("apiVersion:", 1)[0]
    assert "DO NOT `istioctl install -f mesh-config.yaml`" in header
    assert "merge" in header


def test_istiod_values_register_the_same_provider(istiod_values, mesh_config):
    assert set(istiod_values) == {"meshConfig"}
    assert (istiod_values["meshConfig"]["extensionProviders"]
            == mesh_config["spec"]["meshConfig"]["extensionProviders"])
    text = (ISTIO_DIR / "istiod-values.yaml").read_text()
    assert "helm get values istiod" in text, "upgrade with the values in force"


OVERWRITING = re.compile(r"^\s*istioctl install\s+-f\s+\S*mesh-config\.yaml", re.M)


@pytest.mark.parametrize("path", [
    ISTIO_DIR / "README.md", ISTIO_DIR / "mesh-config.yaml", ISTIO_DIR / "istiod-values.yaml",
    REPO / "docs" / "install.md", CHART_DIR / "templates" / "NOTES.txt",
    CHART_DIR / "README.md",
], ids=lambda p: str(p.relative_to(REPO)))
def test_no_doc_tells_to_overwrite_a_running_mesh(path):
    """`istioctl install -f mesh-config.yaml` applies a partial IstioOperator over the
    default profile: it resets the mesh's other settings and providers."""
    for line in path.read_text().splitlines():
        if OVERWRITING.search(line.lstrip("#").strip()):
            assert "DO NOT" in line or "never" in line.lower(), f"{path.name}: {line}"


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


# --- Istio's published CRD schema ---------------------------------------------------------


@pytest.fixture(scope="module")
def crd_schema():
    document = json.loads((SCHEMAS_DIR / "authorizationpolicy-security-istio-io-v1.json").read_text())
    assert document["crd"] == {"group": "security.istio.io", "kind": "AuthorizationPolicy",
                               "version": "v1", "scope": "Namespaced"}
    return document["openAPIV3Schema"]


def strict(schema):
    """The CRD's structural schema as the API server applies it with strict field
    validation (`kubectl apply` default since 1.27): a field the schema does not list is
    an error rather than silently pruned."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def _has(obj, key):
    return isinstance(obj, dict) and key in obj


# Every x-kubernetes-validations rule of the vendored schema, as Python: the API server
# evaluates them with CEL. A rule not listed here fails the test, so a schema update
# cannot silently drop a check.
CEL_RULES = {
    "(has(self.serviceAccounts) || has(self.notServiceAccounts)) ? (!has(self.principals) &&\n"
    "!has(self.notPrincipals) && !has(self.namespaces) && !has(self.notNamespaces)) : true":
        lambda v: not (_has(v, "serviceAccounts") or _has(v, "notServiceAccounts")) or not any(
            _has(v, k) for k in ("principals", "notPrincipals", "namespaces", "notNamespaces")),
    '!self.contains("*")': lambda v: "*" not in v,
    'self.all(key, !key.contains("*"))': lambda v: all("*" not in k for k in v),
    "self.all(key, key.size() != 0)": lambda v: all(len(k) for k in v),
    "self.size() == 0": lambda v: len(v) == 0,
    "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1":
        lambda v: sum(_has(v, k) for k in ("selector", "targetRef", "targetRefs")) <= 1,
}


def cel_violations(schema, value, where="$"):
    errors = []
    for rule in schema.get("x-kubernetes-validations", []):
        check = CEL_RULES.get(rule["rule"])
        assert check is not None, f"CEL rule not modelled here: {rule['rule']!r}"
        if not check(value):
            errors.append(f"{where}: {rule['message']}")
    if isinstance(value, dict):
        for key, child in value.items():
            sub = schema.get("properties", {}).get(key)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                errors += cel_violations(sub, child, f"{where}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, child in enumerate(value):
            errors += cel_violations(schema["items"], child, f"{where}[{i}]")
    return errors


def validate_policy(policy, crd_schema, jsonschema):
    assert policy["apiVersion"] == "security.istio.io/v1" and policy["kind"] == "AuthorizationPolicy"
    body = {k: v for k, v in policy.items() if k not in ("apiVersion", "kind", "metadata")}
    validator = jsonschema.Draft7Validator(strict(crd_schema))
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]
    return errors + cel_violations(crd_schema, body)


def test_every_policy_is_valid_for_istios_crd(authorization_policies, crd_schema, jsonschema):
    for policy in authorization_policies:
        errors = validate_policy(policy, crd_schema, jsonschema)
        assert not errors, f"{policy['metadata']['name']}: {errors}"


@pytest.mark.parametrize("mutation, message", [
    (lambda s: s.update(selector={"matchLabels": {"istio": "ingress"}}), "only one of"),
    (lambda s: s.update(targetRef={"kind": "Gateway", "name": "x"}), "only one of"),
    (lambda s: s["targetRefs"][0].update(namespace="other"), "cross namespace"),
    (lambda s: s["targetRefs"][0].pop("name"), "'name' is a required property"),
    (lambda s: s.update(actoin="CUSTOM"), "Additional properties"),
    (lambda s: s.update(action="EXTERNAL"), "is not one of"),
])
def test_the_schema_check_catches_mistakes(policies_by_file, crd_schema, jsonschema, mutation,
                                           message):
    """The validator is not a rubber stamp: what the API server refuses, it refuses."""
    policy = copy.deepcopy(policies_by_file["authorization-policy-gateway-api.yaml"][0])
    mutation(policy["spec"])
    errors = validate_policy(policy, crd_schema, jsonschema)
    assert any(message in e for e in errors), errors


def test_classic_gateway_selector_matches_helm_installed_gateways(policies_by_file):
    ingress = next(p for p in policies_by_file["authorization-policy.yaml"]
                   if p["metadata"]["name"] == "cognito-ext-authz-ingress")
    # Istio's gateway Helm chart labels its pods istio: <release without "istio-">, so the
    # documented `helm install istio-ingress istio/gateway` gives `istio: ingress`.
    assert ingress["spec"]["selector"]["matchLabels"] == {"istio": "ingress"}
    text = (ISTIO_DIR / "authorization-policy.yaml").read_text()
    assert "istio: ingressgateway" in text, "say what istioctl-installed gateways carry"


def test_gateway_api_variant_targets_the_gateway(policies_by_file):
    [policy] = policies_by_file["authorization-policy-gateway-api.yaml"]
    spec = policy["spec"]
    assert "selector" not in spec
    assert spec["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                   "name": spec["targetRefs"][0]["name"]}]


def test_waypoint_variant_targets_a_service_for_ambient(policies_by_file):
    [policy] = policies_by_file["authorization-policy-waypoint.yaml"]
    spec = policy["spec"]
    assert "selector" not in spec, "waypoints ignore selector policies"
    [ref] = spec["targetRefs"]
    assert (ref["group"], ref["kind"]) == ("", "Service")
    text = (ISTIO_DIR / "authorization-policy-waypoint.yaml").read_text()
    assert "ztunnel" in text and "use-waypoint" in text


def test_readme_says_which_mode_needs_which_file():
    readme = (ISTIO_DIR / "README.md").read_text()
    for text in ("authorization-policy-gateway-api.yaml", "authorization-policy-waypoint.yaml",
                 "ambient", "waypoint", "targetRefs", "istio: ingress", "istiod-values.yaml"):
        assert text in readme, text
