"""The Helm chart: lint, Kubernetes schemas, security, the policy mount, roll-out rules.

Each values file in values/ is rendered as the documented release (`cognito-ext-authz` in
namespace `cognito-ext-authz`) and every object checked against the Kubernetes 1.30 API
schemas, strictly (unknown fields are errors). The ServiceMonitor is a CRD those schemas
do not contain; it is checked against schemas/servicemonitor-monitoring-v1.json instead.

Why one file of this length: every test reads the same module-scoped renders (one per
values file, plus the production and default ones), which pytest renders once per module;
split, each part would render the chart again.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess

import pytest

from .common import (
    CHART_DIR,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    REPO,
    SCHEMAS_DIR,
    VALUES_FILES,
    require_command,
    service_binary,
)

POLICY_DIR = "/etc/cognito-ext-authz"
SETTINGS_KEYS = {
    "AUTHZ_LISTEN_ADDR",
    "AUTHZ_MAX_CONNECTIONS",
    "AUTHZ_REFLECTION",
    "AUTHZ_DYNAMIC_METADATA",
    "AUTHZ_ADMIN_ADDR",
    "AUTHZ_POLICY_PATH",
    "AUTHZ_LOG_FORMAT",
    "RUST_LOG",
    "AUTHZ_DRAIN_SECONDS",
    "AUTHZ_JWKS_REFRESH_SECONDS",
    "AUTHZ_JWKS_COOLDOWN_SECONDS",
    "AUTHZ_JWKS_TIMEOUT_SECONDS",
    "AUTHZ_TOKEN_CACHE_ENTRIES",
    "AUTHZ_WORKER_THREADS",
}
# Kinds kubernetes-validate cannot know (CRDs), each with the schema used instead.
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"):
        SCHEMAS_DIR / "servicemonitor-monitoring-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"):
        SCHEMAS_DIR / "prometheusrule-monitoring-v1.json",
}


@pytest.fixture(scope="module", params=VALUES_FILES)
def rendered(request, render, load_values):
    return render(load_values(request.param))


@pytest.fixture(scope="module")
def production(render, load_values):
    return render(load_values("production"))


@pytest.fixture(scope="module")
def defaults(render):
    return render({})


def settings_configmap(r):
    return r.one("ConfigMap", f"{RELEASE}-settings")


def policy_configmap_name(r):
    return r.merged.get("existingPolicyConfigMap") or f"{RELEASE}-policy"


def pod_labels(r):
    return r.deployment["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --- lint and schemas -------------------------------------------------------------------


@pytest.mark.parametrize("values_name", VALUES_FILES)
def test_lint_is_clean_in_strict_mode(helm, load_values, values_name):
    report = helm.lint(CHART_DIR, load_values(values_name), strict=True, namespace=NAMESPACE,
                       kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["total_charts_linted"] == 1
    assert not problems, problems
    assert not report["errors"], report["errors"]


def test_every_object_is_valid_for_kubernetes(rendered, kubernetes_validate, jsonschema):
    assert rendered.objects, "nothing rendered"
    for obj in rendered.objects:
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        crd_schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if crd_schema:
            schema = json.loads(crd_schema.read_text())
            errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
            assert not errors, f"{label}: " + "; ".join(e.message for e in errors)
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.utils.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            pytest.fail(f"{label} is invalid for Kubernetes {KUBE_VERSION}: "
                        f"{path}: {error.message}")
        except kubernetes_validate.utils.SchemaNotFoundError as error:
            pytest.fail(f"{label}: no Kubernetes schema and no CRD schema here: {error.message}")


def test_objects_are_namespaced_to_the_release(rendered):
    elsewhere = {"ServiceMonitor": "serviceMonitor", "PrometheusRule": "prometheusRule"}
    for obj in rendered.objects:
        expected = NAMESPACE
        key = elsewhere.get(obj["kind"])
        if key and rendered.merged[key]["namespace"]:
            expected = rendered.merged[key]["namespace"]
        if obj["metadata"]["name"].endswith("-dashboard"):
            expected = rendered.merged["grafanaDashboard"]["namespace"] or NAMESPACE
        assert obj["metadata"].get("namespace") == expected, obj["kind"]


def test_kubernetes_validate_cli_accepts_the_production_render(production, yaml, tmp_path):
    """The documented command (`kubernetes-validate --strict -k 1.30.0`) offline, as CI runs it."""
    cli = require_command("kubernetes-validate", "kubernetes-validate")
    builtin = [o for o in production.objects if (o["apiVersion"], o["kind"]) not in CRD_SCHEMAS]
    manifest = tmp_path / "production.yaml"
    manifest.write_text(yaml.safe_dump_all(builtin))
    result = subprocess.run([str(cli), "--strict", "-k", KUBE_VERSION, str(manifest)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout and "WARN" not in result.stdout, result.stdout
    assert result.stdout.count("passed") == len(builtin), result.stdout


# --- which objects exist ----------------------------------------------------------------


# Every install has the policy-check hook (a Job, and a ConfigMap carrying the new policy
# unless the policy lives in an existing ConfigMap) and the `helm test` Pod.
EXPECTED_KINDS = {
    "defaults": ["ConfigMap", "ConfigMap", "ConfigMap", "Deployment", "Job", "Pod",
                 "PodDisruptionBudget", "Service", "ServiceAccount"],
    "minimal": ["ConfigMap", "ConfigMap", "ConfigMap", "Deployment", "Job", "Pod", "Service"],
    "existing-configmap": ["ConfigMap", "Deployment", "Job", "Pod", "PodDisruptionBudget",
                           "Service", "ServiceAccount"],
    "production": ["ConfigMap", "ConfigMap", "ConfigMap", "ConfigMap", "Deployment",
                   "HorizontalPodAutoscaler", "Job", "NetworkPolicy", "Pod",
                   "PodDisruptionBudget", "PrometheusRule", "Service", "Service",
                   "ServiceAccount", "ServiceMonitor"],
}


@pytest.mark.parametrize("values_name", VALUES_FILES)
def test_rendered_kinds(render, load_values, values_name):
    assert values_name in EXPECTED_KINDS, f"add the expected kinds of values/{values_name}.yaml"
    r = render(load_values(values_name))
    assert sorted(o["kind"] for o in r.objects) == EXPECTED_KINDS[values_name]
    for obj in r.objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        if obj["kind"] == "Pod":  # the helm test pod: never selected as a service pod
            assert "app.kubernetes.io/name" not in labels
        else:
            assert labels["app.kubernetes.io/name"] == "cognito-ext-authz"


def test_documented_release_gives_the_plain_service_name(defaults):
    """Istio's extension provider names cognito-ext-authz.cognito-ext-authz.svc.cluster.local."""
    service = defaults.one("Service", "cognito-ext-authz")
    assert service["metadata"]["namespace"] == "cognito-ext-authz"


def test_other_release_names_are_prefixed(render):
    r = render({}, name="authz", namespace="edge")
    assert r.deployment["metadata"]["name"] == "authz-cognito-ext-authz"
    assert "authz-cognito-ext-authz.edge.svc.cluster.local:9000" in r.notes


# --- pod security -----------------------------------------------------------------------


def test_pod_runs_unprivileged(rendered):
    pod = rendered.pod_spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}

    container = rendered.container["securityContext"]
    assert container["runAsNonRoot"] is True
    assert container["runAsUser"] != 0
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container.get("privileged", False) is False
    assert container["capabilities"]["drop"] == ["ALL"]
    assert not container["capabilities"].get("add")
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}

    spec = rendered.pod_spec
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")


def test_resources_have_requests_and_limits(rendered):
    resources = rendered.container["resources"]
    for part in ("requests", "limits"):
        assert resources[part].get("cpu"), part
        assert resources[part].get("memory"), part


def test_image_and_command(rendered):
    container = rendered.container
    image = rendered.merged["image"]
    tag = image["tag"] or "0.1.0"
    assert container["image"] == f"{image['repository']}:{tag}"
    assert container["args"][0] == "serve"
    assert "command" not in container, "the image's ENTRYPOINT runs the binary"


def test_image_digest_wins_over_tag(render):
    digest = "sha256:" + "ab" * 32
    r = render({"image": {"repository": "r.example/authz", "tag": "9.9.9", "digest": digest}})
    assert r.container["image"] == f"r.example/authz@{digest}"


# --- probes and ports -------------------------------------------------------------------


def test_liveness_is_the_process_and_readiness_is_the_ability_to_decide(rendered):
    """An outside dependency (Cognito's keys) must never restart a pod: liveness and
    startup ask /healthz (the process answers), readiness gRPC health (policy and keys
    loaded). test_probes_against_the_binary.py runs these probes against the binary."""
    grpc_port = rendered.merged["containerPorts"]["grpc"]
    container = rendered.container
    for probe_name in ("startupProbe", "livenessProbe"):
        probe = container[probe_name]
        assert probe["httpGet"] == {"path": "/healthz", "port": "http-admin"}, probe_name
        assert not {"grpc", "tcpSocket", "exec"} & probe.keys(), probe_name
    readiness = container["readinessProbe"]
    assert readiness["grpc"] == {"port": grpc_port, "service": ""}
    assert not {"httpGet", "tcpSocket", "exec"} & readiness.keys()


def test_startup_probe_is_bounded_and_liveness_does_not_flap(defaults):
    startup = defaults.container["startupProbe"]
    liveness = defaults.container["livenessProbe"]
    # The process is up within a second or two; a startup window of 10-120 s is plenty
    # and does not hold a hung process for minutes.
    window = startup["periodSeconds"] * startup["failureThreshold"]
    assert 10 <= window <= 120, window
    assert liveness["failureThreshold"] >= 3 and liveness["periodSeconds"] >= 5


def test_a_policy_that_does_not_load_is_visible(rendered):
    """The process exits 1 with every error on stderr; FallbackToLogsOnError makes those
    lines the termination message shown by `kubectl describe pod`, and a rollout of such
    pods is reported failed after progressDeadlineSeconds while the old pods serve."""
    assert rendered.container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert rendered.deployment["spec"]["progressDeadlineSeconds"] <= 600
    assert rendered.deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_container_ports(rendered):
    ports = {p["name"]: p["containerPort"] for p in rendered.container["ports"]}
    assert ports == {"grpc": 9000, "http-admin": 9090}


def test_service_ports_and_selector(rendered):
    service = rendered.one("Service", RELEASE)
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert ports["grpc"]["port"] == 9000 and ports["grpc"]["targetPort"] == "grpc"
    assert ports["grpc"]["appProtocol"] == "grpc"
    assert ports["http-admin"]["port"] == 9090 and ports["http-admin"]["targetPort"] == "http-admin"
    assert selects(service["spec"]["selector"], pod_labels(rendered))
    assert service["spec"].get("clusterIP") != "None"


def test_headless_service_for_envoy(production):
    headless = production.one("Service", f"{RELEASE}-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is False
    assert [p["name"] for p in headless["spec"]["ports"]] == ["grpc"], (
        "gRPC only: a ServiceMonitor selecting both Services must not scrape each pod twice"
    )
    assert selects(headless["spec"]["selector"], pod_labels(production))
    assert "cognito-ext-authz-headless.cognito-ext-authz.svc.cluster.local:9000" in production.notes


def test_ipv6_bind_address_is_bracketed(render, load_values):
    data = settings_configmap(render(load_values("existing-configmap")))["data"]
    assert data["AUTHZ_LISTEN_ADDR"] == "[::]:9000"
    assert data["AUTHZ_ADMIN_ADDR"] == "[::]:9090"


# --- the policy ConfigMap and its mount -------------------------------------------------


def test_policy_configmap_is_mounted_as_a_folder_never_subpath(rendered):
    mounts = rendered.container["volumeMounts"]
    for mount in mounts:
        assert "subPath" not in mount and "subPathExpr" not in mount, mount
    policy_mount = [m for m in mounts if m["name"] == "policy"]
    assert policy_mount == [{"name": "policy", "mountPath": POLICY_DIR, "readOnly": True}]

    volume = next(v for v in rendered.pod_spec["volumes"] if v["name"] == "policy")
    assert volume["configMap"]["name"] == policy_configmap_name(rendered)
    assert {"key": "policy.yaml", "path": "policy.yaml"} in volume["configMap"]["items"]
    policy_path = settings_configmap(rendered)["data"]["AUTHZ_POLICY_PATH"]
    assert policy_path == f"{POLICY_DIR}/policy.yaml"


def test_writable_tmp_for_a_read_only_root(rendered):
    mounts = {m["name"]: m["mountPath"] for m in rendered.container["volumeMounts"]}
    assert mounts["tmp"] == "/tmp"
    volume = next(v for v in rendered.pod_spec["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in volume


def test_policy_configmap_holds_exactly_the_values_policy(rendered, yaml):
    if rendered.merged.get("existingPolicyConfigMap"):
        names = [c["metadata"]["name"] for c in rendered.of_kind("ConfigMap")]
        assert not [n for n in names if n.endswith("-policy")], names
        return
    configmap = rendered.one("ConfigMap", f"{RELEASE}-policy")
    assert set(configmap["data"]) == {"policy.yaml"}
    policy = yaml.safe_load(configmap["data"]["policy.yaml"])
    given = rendered.values.get("policy")
    if given is None:  # the chart's example
        assert policy == {"userPools": [{"id": "us-east-1_EXAMPLE"}], "defaultAction": "deny",
                          "routes": []}
    elif isinstance(given, str):
        assert configmap["data"]["policy.yaml"].rstrip("\n") == given.rstrip("\n")
    else:  # a map, with nothing of the example merged in
        assert policy == given


IMPORTED_POLICY = """\
# Written by `cognito-ext-authz import` from serverless.yml.
# review: GET /health is public in API Gateway (no authorizer).
defaultAction: deny
authorizers:
  cognito:
    userPools:
      - id: eu-west-1_Abc123def
routes:
  - path: /health
    methods: [GET]
    auth: none
  - path: /users/{id}
    methods: [GET]
    authorizer: cognito
    scopes: [users/read]
"""


def test_import_output_goes_in_as_text_with_its_notes_and_order(chart, render, yaml, tmp_path):
    """What `import` writes is the value as is: no schema error from the example's pool,
    comments (its review notes) and key order kept in the ConfigMap and the policy gate."""
    values = {"policy": IMPORTED_POLICY}
    chart.validate_schema(values)
    r = render(values)
    text = r.one("ConfigMap", f"{RELEASE}-policy")["data"]["policy.yaml"]
    assert text == IMPORTED_POLICY
    gate = r.one("ConfigMap", f"{RELEASE}-policy-check")["data"]["policy.yaml"]
    assert gate == IMPORTED_POLICY
    assert "us-east-1_EXAMPLE" not in r.notes
    assert service_validate(yaml.safe_load(text), yaml, tmp_path).returncode == 0


def test_import_output_goes_in_as_a_map_without_the_example_pool(chart, render, yaml):
    values = {"policy": yaml.safe_load(IMPORTED_POLICY)}
    chart.validate_schema(values)
    policy = yaml.safe_load(render(values).one("ConfigMap", f"{RELEASE}-policy")["data"]["policy.yaml"])
    assert "userPools" not in policy and policy["authorizers"]["cognito"]["userPools"] == [
        {"id": "eu-west-1_Abc123def"}]


def test_production_policy_renders_unchanged(production, load_values, yaml):
    configmap = production.one("ConfigMap", f"{RELEASE}-policy")
    assert yaml.safe_load(configmap["data"]["policy.yaml"]) == load_values("production")["policy"]


def test_default_policy_denies_everything_and_exposes_nothing(defaults, yaml):
    policy = yaml.safe_load(defaults.one("ConfigMap", f"{RELEASE}-policy")["data"]["policy.yaml"])
    assert policy["defaultAction"] == "deny"
    assert policy["routes"] == []
    assert "us-east-1_EXAMPLE" in defaults.notes, "the notes warn about the example pool"


def test_settings_configmap_feeds_the_environment(rendered):
    configmap = settings_configmap(rendered)
    data = configmap["data"]
    assert set(data) == SETTINGS_KEYS
    assert all(isinstance(v, str) for v in data.values())
    settings = rendered.merged["settings"]
    assert data["AUTHZ_LOG_FORMAT"] == settings["logFormat"]
    assert data["RUST_LOG"] == settings["logLevel"]
    assert data["AUTHZ_DRAIN_SECONDS"] == str(settings["drainSeconds"])
    assert data["AUTHZ_JWKS_REFRESH_SECONDS"] == str(settings["jwksRefreshSeconds"])
    assert data["AUTHZ_JWKS_COOLDOWN_SECONDS"] == str(settings["jwksCooldownSeconds"])
    assert data["AUTHZ_JWKS_TIMEOUT_SECONDS"] == str(settings["jwksTimeoutSeconds"])
    assert data["AUTHZ_TOKEN_CACHE_ENTRIES"] == str(settings["tokenCacheEntries"])
    assert data["AUTHZ_MAX_CONNECTIONS"] == str(settings["maxConnections"])
    assert int(data["AUTHZ_WORKER_THREADS"]) >= 1
    assert data["AUTHZ_LISTEN_ADDR"].endswith(":9000")
    assert data["AUTHZ_ADMIN_ADDR"].endswith(":9090")
    settings_ref = {"configMapRef": {"name": configmap["metadata"]["name"]}}
    assert rendered.container["envFrom"] == [settings_ref]


def test_extra_env_reaches_the_container(production):
    """production.yaml sets no extraArgs: `serve` alone (test_helm_values.py sets some)."""
    env = {e["name"]: e["value"] for e in production.container["env"]}
    assert env["HTTPS_PROXY"].startswith("http://egress-proxy")
    assert production.container["args"] == ["serve"]


# --- what rolls the pods and what does not ----------------------------------------------


def pod_template(r):
    return r.deployment["spec"]["template"]


def settings_checksum(r):
    return pod_template(r)["metadata"]["annotations"]["checksum/settings"]


@pytest.mark.parametrize("change", [
    {"settings": {"logLevel": "debug"}},
    {"settings": {"logFormat": "text"}},
    {"settings": {"drainSeconds": 7}},
    {"settings": {"jwksRefreshSeconds": 600}},
    {"settings": {"jwksCooldownSeconds": 20}},
    {"settings": {"jwksTimeoutSeconds": 2}},
    {"settings": {"tokenCacheEntries": 0}},
    {"settings": {"bindAddress": "::"}},
    {"settings": {"workerThreads": 3}},
    {"resources": {"requests": {"cpu": "2"}}},
    {"containerPorts": {"grpc": 9100}},
])
def test_a_settings_change_rolls_the_pods(render, change):
    before, after = render({}), render(change)
    assert settings_configmap(before)["data"] != settings_configmap(after)["data"]
    assert settings_checksum(before) != settings_checksum(after)


@pytest.mark.parametrize("change", [
    {"policy": {"userPools": [{"id": "eu-west-1_Other123"}], "defaultAction": "allow"}},
    {"policy": {"userPools": [{"id": "eu-west-1_Other123"}],
                "routes": [{"path": "/orders/{id}", "methods": ["GET"],
                            "scopes": ["orders/read"]}]}},
    {"policy": "userPools: [{id: eu-west-1_Other123}]\ninsufficientScopeStatus: 403\n"},
])
def test_a_policy_change_is_hot_reloaded_not_rolled(render, change):
    before, after = render({}), render(change)
    policy_before = before.one("ConfigMap", f"{RELEASE}-policy")["data"]
    policy_after = after.one("ConfigMap", f"{RELEASE}-policy")["data"]
    assert policy_before != policy_after
    assert pod_template(before) == pod_template(after), "the pod template must not change"


def test_no_checksum_of_the_policy_on_the_pod_template(rendered):
    annotations = pod_template(rendered)["metadata"]["annotations"]
    checksums = [k for k in annotations if k.startswith("checksum/")]
    assert checksums == ["checksum/settings"]


# --- availability: replicas, drain, PDB, HPA --------------------------------------------


def test_grace_period_exceeds_the_drain_period(rendered):
    grace = rendered.pod_spec["terminationGracePeriodSeconds"]
    drain = int(settings_configmap(rendered)["data"]["AUTHZ_DRAIN_SECONDS"])
    assert grace > drain


def test_a_grace_period_not_above_the_drain_period_is_refused(helm, render):
    with pytest.raises(helm.HelmError, match="drainSeconds"):
        render({"settings": {"drainSeconds": 30}, "terminationGracePeriodSeconds": 30})


def test_rolling_update_keeps_capacity(defaults):
    strategy = defaults.deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_replicas_without_autoscaling(defaults):
    assert defaults.deployment["spec"]["replicas"] == 2
    assert not defaults.of_kind("HorizontalPodAutoscaler")


def test_autoscaler_owns_the_replica_count(production):
    assert "replicas" not in production.deployment["spec"]
    hpa = production.one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": RELEASE}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
               for m in hpa["spec"]["metrics"]}
    assert targets == {"cpu": 60, "memory": 80}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


@pytest.mark.parametrize("bad, message", [
    ({"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}, "maxReplicas"),
    ({"autoscaling": {"enabled": True, "targetCPUUtilizationPercentage": None}}, "targetCPU"),
    ({"autoscaling": {"enabled": True}, "resources": {"requests": {"cpu": None}}},
     "requests.cpu"),
    ({"podDisruptionBudget": {"minAvailable": 1}}, "not both"),
    ({"podDisruptionBudget": {"maxUnavailable": None}}, "maxUnavailable or minAvailable"),
])
def test_inconsistent_settings_are_refused(helm, render, bad, message):
    with pytest.raises(helm.HelmError, match=message):
        render(bad)


def test_disruption_budget(defaults, production):
    pdb = defaults.one("PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert selects(pdb["spec"]["selector"]["matchLabels"], pod_labels(defaults))
    pdb = production.one("PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 2 and "maxUnavailable" not in pdb["spec"]


# --- monitoring and network policy ------------------------------------------------------


def duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text))


def test_service_monitor_scrapes_the_admin_port(production):
    monitor = production.one("ServiceMonitor")
    service = production.one("Service", RELEASE)
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http-admin" and endpoint["path"] == "/metrics"
    assert duration_seconds(endpoint["scrapeTimeout"]) <= duration_seconds(endpoint["interval"])
    assert endpoint["metricRelabelings"][0]["action"] == "drop"


def test_network_policy(production):
    policy = production.one("NetworkPolicy")
    spec = policy["spec"]
    assert selects(spec["podSelector"]["matchLabels"], pod_labels(production))
    assert spec["policyTypes"] == ["Ingress", "Egress"]

    grpc_rule, metrics_rule, helm_test_rule = spec["ingress"]
    assert helm_test_rule["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": "helm-test"}}}]
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    assert grpc_rule["from"] == production.merged["networkPolicy"]["grpcFrom"]
    assert metrics_rule["ports"] == [{"port": "http-admin", "protocol": "TCP"}]
    assert metrics_rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"}

    dns, https, proxy = spec["egress"]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert dns["to"] == production.merged["networkPolicy"]["dnsTo"]
    assert https["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert "to" not in https, "Cognito's addresses change: any destination on 443"
    assert proxy["ports"] == [{"port": 3128, "protocol": "TCP"}]


def test_network_policy_defaults_let_any_namespace_call(render):
    policy = render({"networkPolicy": {"enabled": True}}).one("NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"] == [{"namespaceSelector": {}}]
    assert all("to" not in rule for rule in policy["spec"]["egress"])


# --- NOTES.txt --------------------------------------------------------------------------


def test_notes_explain_istio_and_envoy_wiring(rendered):
    notes = rendered.notes
    assert "cognito-ext-authz.cognito-ext-authz.svc.cluster.local:9000" in notes
    for text in ("extensionProviders", "envoyExtAuthzGrpc", "failOpen: false", "timeout: 0.5s",
                 'statusOnError: "503"',
                 "action: CUSTOM", "security.istio.io/v1", "failure_mode_allow: false",
                 "http2_protocol_options", "grpc_health_check"):
        assert text in notes, text


def test_notes_warn_about_the_example_pool_only_when_it_is_used(defaults, production):
    assert "WARNING" in defaults.notes
    assert "WARNING" not in production.notes


# --- the values schema ------------------------------------------------------------------


def schema_of(chart_schema: dict, path: str) -> dict:
    node = chart_schema
    for part in path.split("."):
        node = node["properties"][part]
        while "$ref" in node or "allOf" in node:
            ref = node["$ref"] if "$ref" in node else node["allOf"][0]["$ref"]
            node = chart_schema["definitions"][ref.rsplit("/", 1)[1]]
    return node


def test_schema_is_draft07_and_closed(jsonschema):
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)

    def walk(node, where):
        if isinstance(node, dict):
            if "properties" in node:
                # Closed, or explicitly open for a Kubernetes object passed through as is.
                closed = node.get("additionalProperties") is False
                passthrough = (node.get("additionalProperties") is True
                               and "passed through" in node.get("description", ""))
                assert closed or passthrough, f"{where} is open"
            for key, child in node.items():
                if key != "if":  # a condition, not a definition of allowed keys
                    walk(child, f"{where}.{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}[{index}]")

    walk(schema, "$")


def test_schema_describes_every_default_value(chart):
    schema = chart.schema
    assert schema is not None

    def walk(values, node, where):
        for key, value in values.items():
            assert key in node.get("properties", {}), f"{where}.{key} is not in the schema"
            child = node["properties"][key]
            while "$ref" in child or "allOf" in child:
                ref = child["$ref"] if "$ref" in child else child["allOf"][0]["$ref"]
                child = schema["definitions"][ref.rsplit("/", 1)[1]]
            if isinstance(value, dict) and "properties" in child:
                walk(value, child, f"{where}.{key}")

    walk(chart.values, schema, "values")


@pytest.mark.parametrize("values_name", VALUES_FILES)
def test_schema_accepts_the_values_files(chart, load_values, values_name):
    chart.validate_schema(load_values(values_name))


@pytest.mark.parametrize("pool_id", [
    "us-east-1_abc", "ap-south-1_abcdefghi", "eu-central-1_Zyx987Wvu", "us-gov-west-1_AbC1",
    "ap-southeast-2_0aZ",
])
def test_schema_accepts_pool_ids(chart, yaml, tmp_path, pool_id):
    chart.validate_schema({"policy": {"userPools": [{"id": pool_id}]}})
    result = service_validate({"userPools": [{"id": pool_id}]}, yaml, tmp_path)
    assert result.returncode == 0, result.stderr


NAMED_AUTHORIZERS = {
    "authorizers": {
        "staff": {
            "userPools": [{"arn": "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_StaffPool1"}],
            "identityValidationExpression": "^[0-9a-z]{26}$",
            "resultTtlSeconds": 0,
        },
        "customers": {
            "userPools": [{"id": "eu-west-1_CustPool01", "appClients": ["abc123"]}],
            "tokenSource": {"header": "x-customer-token"},
        },
    },
    "defaultAuthorizer": "staff",
    "claimHeaders": {"x-user-email": "email"},
    "routes": [
        {"path": "/staff/reports", "scopes": ["reports/read"]},
        {"path": "/profile", "authorizer": "customers", "tokenUse": "id"},
    ],
}


def test_named_authorizers_pass_the_schema_and_the_service(chart, render, yaml, tmp_path):
    """API Gateway's authorizer model (docs/policy.md) is accepted by the schema, rendered, and
    loaded by the service; mixing it with the single form is refused by both."""
    values = {"policy": copy.deepcopy(NAMED_AUTHORIZERS)}
    chart.validate_schema(values)
    r = render(values)
    policy = yaml.safe_load(r.one("ConfigMap", f"{RELEASE}-policy")["data"]["policy.yaml"])
    assert "userPools" not in policy and set(policy["authorizers"]) == {"staff", "customers"}
    result = service_validate(policy, yaml, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    mixed = copy.deepcopy(NAMED_AUTHORIZERS)
    mixed["userPools"] = [{"id": "us-east-1_EXAMPLE"}]
    with pytest.raises(Exception):
        chart.validate_schema({"policy": mixed})
    assert service_validate(mixed, yaml, tmp_path).returncode == 1


BAD_VALUES = {
    "replicas as text": {"replicaCount": "two"},
    "negative replicas": {"replicaCount": -1},
    "unknown top-level key": {"replicas": 3},
    "unknown image key": {"image": {"name": "x"}},
    "image tag as a number": {"image": {"tag": 1.2}},
    "malformed digest": {"image": {"digest": "sha256:xyz"}},
    "unknown settings key": {"settings": {"logLvl": "debug"}},
    "bad log format": {"settings": {"logFormat": "xml"}},
    "cache size as text": {"settings": {"tokenCacheEntries": "many"}},
    "negative drain": {"settings": {"drainSeconds": -1}},
    "bad bind address": {"settings": {"bindAddress": "localhost"}},
    "port out of range": {"service": {"grpcPort": 70000}},
    "unknown service key": {"service": {"headless": {"enable": True}}},
    "headless flag as text": {"service": {"headless": {"enabled": "yes"}}},
    "bad probe timing": {"probes": {"liveness": {"periodSeconds": 0}}},
    "successThreshold on liveness": {"probes": {"liveness": {"successThreshold": 2}}},
    "bad resource quantity": {"resources": {"limits": {"memory": "lots"}}},
    "bad pdb percentage": {"podDisruptionBudget": {"maxUnavailable": "half"}},
    "bad scrape interval": {"serviceMonitor": {"interval": "30 seconds"}},
    "network peer typo": {"networkPolicy": {"grpcFrom": [{"namespaceSelectr": {}}]}},
    "env without a name": {"extraEnv": [{"value": "x"}]},
    "policy as a list": {"policy": ["userPools"]},
    "unknown policy key": {"policy": {"defaultAcion": "deny"}},
    "no user pools": {"policy": {"userPools": []}},
    "user pools missing": {"policy": {"userPools": None}},
    "no pools and no authorizers": {"policy": {"defaultAction": "deny", "routes": []}},
    "pool id without region": {"policy": {"userPools": [{"id": "abcdefghi"}]}},
    "pool id upper-case region": {"policy": {"userPools": [{"id": "US-EAST-1_abc"}]}},
    "pool id without underscore": {"policy": {"userPools": [{"id": "us-east-1abc"}]}},
    "pool id without number": {"policy": {"userPools": [{"id": "us-east_abc"}]}},
    "pool id empty suffix": {"policy": {"userPools": [{"id": "us-east-1_"}]}},
    "pool id bad suffix": {"policy": {"userPools": [{"id": "us-east-1_abc-def"}]}},
    "pool id as a number": {"policy": {"userPools": [{"id": 12345}]}},
    "unknown pool key": {"policy": {"userPools": [{"id": "us-east-1_abc", "appClient": ["x"]}]}},
    "app clients as a string": {"policy": {"userPools": [{"id": "us-east-1_abc",
                                                          "appClients": "x"}]}},
    "jwks uri not a URL": {"policy": {"userPools": [{"id": "us-east-1_abc",
                                                     "jwksUri": "keys.json"}]}},
    "bad default action": {"policy": {"defaultAction": "permit"}},
    "bad insufficient scope status": {"policy": {"insufficientScopeStatus": 404}},
    "negative leeway": {"policy": {"leewaySeconds": -5}},
    "unknown token source key": {"policy": {"tokenSource": {"cookie": "token"}}},
    "routes as a map": {"policy": {"routes": {"path": "/x"}}},
    "route without path": {"policy": {"routes": [{"scopes": ["a/b"]}]}},
    "relative route path": {"policy": {"routes": [{"path": "users"}]}},
    "unknown route key": {"policy": {"routes": [{"path": "/x", "scope": ["a/b"]}]}},
    "scopes as a string": {"policy": {"routes": [{"path": "/x", "scopes": "a/b"}]}},
    "empty scopes": {"policy": {"routes": [{"path": "/x", "scopes": []}]}},
    "unknown method": {"policy": {"routes": [{"path": "/x", "methods": ["FETCH"]}]}},
    "bad auth mode": {"policy": {"routes": [{"path": "/x", "auth": "optional"}]}},
    "public route with scopes": {"policy": {"routes": [{"path": "/x", "auth": "none",
                                                        "scopes": ["a/b"]}]}},
    "bad host": {"policy": {"routes": [{"path": "/x", "hosts": ["https://api.example.com"]}]}},
    "host with a port": {"policy": {"routes": [{"path": "/x", "hosts": ["api.example.com:8443"]}]}},
    "method the service does not know": {"policy": {"routes": [{"path": "/x",
                                                                "methods": ["TRACE"]}]}},
    "empty app clients": {"policy": {"userPools": [{"id": "us-east-1_abc", "appClients": []}]}},
    "bad token header": {"policy": {"tokenSource": {"header": "x token"}}},
}


@pytest.mark.parametrize("bad", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_refuses_bad_values(helm, chart, render, bad):
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(bad)
    with pytest.raises(helm.HelmError):
        render(bad)


def test_python_jsonschema_agrees_with_helm(chart, jsonschema):
    """The schema means the same to a plain draft-07 validator as to Helm's."""
    validator = jsonschema.Draft7Validator(chart.schema)
    assert not list(validator.iter_errors(chart.merge_values({})))
    for name, bad in BAD_VALUES.items():
        merged = chart.merge_values(copy.deepcopy(bad))
        assert list(validator.iter_errors(merged)), name


# The chart's numeric settings and the variable each becomes.
RANGED_SETTINGS = {
    "drainSeconds": "AUTHZ_DRAIN_SECONDS",
    "jwksRefreshSeconds": "AUTHZ_JWKS_REFRESH_SECONDS",
    "jwksCooldownSeconds": "AUTHZ_JWKS_COOLDOWN_SECONDS",
    "jwksTimeoutSeconds": "AUTHZ_JWKS_TIMEOUT_SECONDS",
    "tokenCacheEntries": "AUTHZ_TOKEN_CACHE_ENTRIES",
    "maxConnections": "AUTHZ_MAX_CONNECTIONS",
}


def documented_range(variable: str) -> tuple[int, int]:
    """The `(A to B)` range of `variable` in the settings table (docs/running.md)."""
    row = next(line for line in (REPO / "docs" / "running.md").read_text().splitlines()
               if line.startswith(f"| `{variable}` |"))
    low, high = re.search(r"\((\d+) to (\d+)\)", row).groups()
    return int(low), int(high)


@pytest.mark.parametrize("key", RANGED_SETTINGS)
def test_settings_are_refused_by_the_schema_where_the_service_would_refuse_them(helm, chart, key):
    """A value the service refuses at start (exit 2, a pod restarting for ever) is refused
    by `helm install` instead: the schema's bounds are the documented ranges."""
    low, high = documented_range(RANGED_SETTINGS[key])
    for good in (low, high):
        chart.validate_schema({"settings": {key: good}})
    for bad in (low - 1, high + 1):
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema({"settings": {key: bad}})


# --- the schema and the service agree -------------------------------------------------


def service_validate(policy: dict, yaml, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return subprocess.run([str(service_binary()), "validate", str(path)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("values_name", [v for v in VALUES_FILES if v != "existing-configmap"])
def test_the_service_accepts_every_rendered_policy(render, load_values, yaml, tmp_path,
                                                   values_name):
    """What the chart renders, `cognito-ext-authz validate` (the service's own loader) accepts."""
    r = render(load_values(values_name))
    policy = yaml.safe_load(r.one("ConfigMap", f"{RELEASE}-policy")["data"]["policy.yaml"])
    result = service_validate(policy, yaml, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


POLICY_CASES = {k: v for k, v in BAD_VALUES.items()
                if isinstance(v.get("policy"), dict) and len(v) == 1}


@pytest.mark.parametrize("bad", POLICY_CASES.values(), ids=POLICY_CASES.keys())
def test_the_service_refuses_what_the_schema_refuses(chart, yaml, tmp_path, bad):
    """The schema is no stricter than the service on these cases, so no valid policy is refused."""
    policy = chart.merge_values(copy.deepcopy(bad))["policy"]
    result = service_validate(policy, yaml, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error" in result.stderr


# --- values.yaml documentation ----------------------------------------------------------


def documented_values(text: str) -> list[str]:
    """Dotted paths of values.yaml keys carrying a `# --` comment (helm-docs convention)."""
    paths, stack, comment = [], [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = True
            continue
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not match:
            comment = False
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([s[1] for s in stack] + [match.group(2)])
        stack.append((indent, match.group(2)))
        if comment:
            paths.append(path)
        comment = False
    return paths


def test_every_value_is_commented(chart):
    text = (CHART_DIR / "values.yaml").read_text()
    documented = set(documented_values(text))

    def walk(values, prefix):
        for key, value in values.items():
            path = f"{prefix}{key}"
            if path in documented:
                continue
            assert isinstance(value, dict) and value, f"values.yaml: {path} has no `# --` comment"
            walk(value, f"{path}.")

    walk(chart.values, "")


def test_install_doc_documents_every_value(chart):
    """docs/install.md has a row for every value, with the true default where it is short."""
    doc = (REPO / "docs" / "install.md").read_text()
    rows = dict(re.findall(r"^\| `([\w.]+)` \| (.*?) \| .* \|$", doc, flags=re.M))
    values_text = (CHART_DIR / "values.yaml").read_text()
    documented = documented_values(values_text)
    missing = [p for p in documented if p not in rows]
    assert not missing, f"docs/install.md lacks these values: {missing}"
    assert not set(rows) - set(documented), "docs/install.md documents values the chart lacks"

    defaults = chart.values
    for path in documented:
        value = defaults
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (dict, list)) and value and not rows[path].startswith("`"):
            continue  # a large default, described in words
        cell = rows[path]
        assert cell.startswith("`") and cell.endswith("`"), f"{path}: default {cell} not in `JSON`"
        assert json.loads(cell[1:-1]) == value, f"{path}: the doc says {cell}, the chart {value!r}"
