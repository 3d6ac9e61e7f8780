"""The chart as an SRE runs it: sizing, the policy gate, spread, drain, alerts, `helm test`.

Rendered like test_helm_chart.py (the documented release, Kubernetes and CRD schemas
checked there for every values file); here each operational scenario is rendered and its
meaning checked, and where the binary decides (the policy gate) the binary is run.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import pytest

from support import envoy

from .common import CHART_DIR, NAMESPACE, RELEASE, REPO, run_container

HOOK = "cognito-ext-authz-policy-check"


@pytest.fixture(scope="module")
def defaults(render):
    return render({})


@pytest.fixture(scope="module")
def production(render, load_values):
    return render(load_values("production"))


def settings_data(r):
    return r.one("ConfigMap", f"{RELEASE}-settings")["data"]


def duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|s|m|h)", text))


# --- sizing and worker threads ------------------------------------------------------------


@pytest.mark.parametrize("cpu_request, workers", [
    ("100m", 1), ("500m", 1), ("1", 1), ("1000m", 1), ("1500m", 2), ("2", 2), (2, 2),
    ("2.5", 3), ("4", 4),
])
def test_worker_threads_follow_the_cpu_request(render, cpu_request, workers):
    """The runtime would size its pool from the CPU limit (cgroup quota); the chart sets
    AUTHZ_WORKER_THREADS to the CPU the pod is guaranteed instead."""
    r = render({"resources": {"requests": {"cpu": cpu_request}}})
    assert settings_data(r)["AUTHZ_WORKER_THREADS"] == str(workers)


def test_worker_threads_can_be_set(render):
    r = render({"settings": {"workerThreads": 6}})
    assert settings_data(r)["AUTHZ_WORKER_THREADS"] == "6"


def test_default_resources_leave_no_gap_between_request_and_workers(defaults):
    """The workers match the CPU the pod is guaranteed (the request, rounded up), not the
    limit the runtime would otherwise follow; the request is at least half a core, so the
    one worker is not throttled on the request path and the HPA does not scale at a few
    millicores; memory request equals its limit (no overcommit, last evicted)."""
    resources = defaults.container["resources"]
    cpu = str(resources["requests"]["cpu"])
    cores = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    assert cores >= 0.5
    assert settings_data(defaults)["AUTHZ_WORKER_THREADS"] == str(math.ceil(cores))
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    assert float(resources["limits"]["cpu"]) >= cores


def test_install_doc_sizing_table_names_the_defaults(defaults):
    doc = (REPO / "docs" / "install.md").read_text()
    assert "## Sizing" in doc
    memory = defaults.container["resources"]["limits"]["memory"]
    assert memory in doc.split("## Sizing", 1)[1], "the sizing section explains the default"


# --- the policy gate (pre-install / pre-upgrade hook) -------------------------------------


def hook_job(r):
    return r.one("Job", HOOK)


def test_policy_check_hook_runs_validate_from_the_release_image(defaults):
    job = hook_job(defaults)
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    assert "hook-failed" not in annotations["helm.sh/hook-delete-policy"], "keep failures for logs"
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    assert container["image"] == defaults.container["image"], "the same image as the pods"
    assert container["args"] == ["validate", "/etc/cognito-ext-authz/policy.yaml"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    # The hook's pods never count as service pods (Service, PDB, spread, NetworkPolicy).
    labels = spec["template"]["metadata"]["labels"]
    assert "app.kubernetes.io/name" not in labels


def test_policy_check_hook_carries_the_policy_being_installed(render, yaml):
    policy = {"userPools": [{"id": "eu-west-1_Abc123XyZ"}],
              "routes": [{"path": "/orders/{id}", "scopes": ["orders/read"]}]}
    r = render({"policy": policy})
    hook_cm = r.one("ConfigMap", HOOK)
    annotations = hook_cm["metadata"]["annotations"]
    assert int(annotations["helm.sh/hook-weight"]) < int(
        hook_job(r)["metadata"]["annotations"]["helm.sh/hook-weight"]), "ConfigMap first"
    live_cm = r.one("ConfigMap", f"{RELEASE}-policy")
    assert hook_cm["data"] == live_cm["data"], "the gate checks exactly what will be mounted"
    volume = hook_job(r)["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["name"] == HOOK


def test_policy_check_hook_reads_an_existing_configmap(render, load_values):
    r = render(load_values("existing-configmap"))
    volume = hook_job(r)["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["name"] == "api-gateway-policy"
    assert not [c for c in r.of_kind("ConfigMap") if c["metadata"]["name"] == HOOK]


def test_policy_check_hook_can_be_disabled(render):
    r = render({"policyCheck": {"enabled": False}})
    assert not r.of_kind("Job")


GATED_POLICIES = {
    "unclosed parameter": [{"path": "/u/{id", "scopes": ["a/b"]}],
    "duplicate routes": [{"path": "/users/{id}", "methods": ["GET"], "scopes": ["a/b"]},
                         {"path": "/users/{userId}", "methods": ["GET"], "scopes": ["c/d"]}],
    "greedy parameter not last": [{"path": "/{proxy+}/x", "scopes": ["a/b"]}],
}


@pytest.mark.parametrize("routes", GATED_POLICIES.values(), ids=GATED_POLICIES.keys())
def test_the_hook_fails_an_upgrade_the_schema_lets_through(chart, render, yaml, tmp_path,
                                                           routes):
    """These pass values.schema.json (so `helm upgrade` would apply them) but the service
    refuses them at start: the hook's command, run on the hook's ConfigMap, exits 1."""
    values = {"policy": {"userPools": [{"id": "eu-west-1_Abc123XyZ"}], "routes": routes}}
    chart.validate_schema(values)
    r = render(values)
    result = run_hook(r, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "routes[" in result.stderr, "the error names the place in the policy"


def test_the_hook_passes_a_good_policy(render, load_values, tmp_path):
    result = run_hook(render(load_values("production")), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def key_server():
    """A loopback key set server: `/good/jwks.json` is a one-key JWKS, anything else 404."""
    import base64
    import http.server
    import threading

    from cryptography.hazmat.primitives.asymmetric import rsa

    numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key() \
        .public_numbers()
    n = base64.urlsafe_b64encode(numbers.n.to_bytes(256, "big")).rstrip(b"=").decode()
    body = json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                                 "n": n, "e": "AQAB"}]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            found = self.path == "/good/jwks.json"
            self.send_response(200 if found else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body if found else b'{"message":"no such pool"}')

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_online_hook_fails_an_install_naming_a_pool_that_does_not_exist(render, tmp_path,
                                                                            key_server):
    """`policyCheck.online`: what the offline gate cannot know, a well-formed pool id that
    does not exist, fails the install with the pool named."""
    good = {"id": "eu-west-1_Abc123XyZ", "jwksUri": f"{key_server}/good/jwks.json"}
    missing = {"id": "eu-west-1_Typo12345", "jwksUri": f"{key_server}/typo/jwks.json"}
    routes = [{"path": "/orders/{id}", "scopes": ["orders/read"]}]
    offline = render({"policy": {"userPools": [good, missing], "routes": routes}})
    assert "--online" not in hook_job(offline)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert run_hook(offline, tmp_path / "offline").returncode == 0

    online = {"policyCheck": {"online": True}}
    r = render({**online, "policy": {"userPools": [good, missing], "routes": routes}})
    result = run_hook(r, tmp_path / "broken")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: pool eu-west-1_Typo12345: HTTP status 404" in result.stderr
    r = render({**online, "policy": {"userPools": [good], "routes": routes}})
    result = run_hook(r, tmp_path / "fixed")
    assert result.returncode == 0, result.stdout + result.stderr


def run_hook(r, tmp_path: Path) -> subprocess.CompletedProcess:
    """The hook Job's container command against its ConfigMap, mounted as the kubelet does."""
    return run_container(r, tmp_path, "Job", HOOK)


# --- topology spread, priority ----------------------------------------------------------


def test_pods_spread_across_nodes_and_zones_by_default(defaults):
    constraints = {c["topologyKey"]: c for c in defaults.pod_spec["topologySpreadConstraints"]}
    assert set(constraints) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert constraints["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
    assert constraints["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "ScheduleAnyway"
    pod_labels = defaults.deployment["spec"]["template"]["metadata"]["labels"]
    for c in constraints.values():
        assert c["maxSkew"] == 1
        assert all(pod_labels[k] == v for k, v in c["labelSelector"]["matchLabels"].items())
        assert c["matchLabelKeys"] == ["pod-template-hash"], "spread each ReplicaSet"
        assert c["nodeTaintsPolicy"] == "Honor", "tainted nodes must not block scheduling"


def test_own_constraints_replace_the_default_spread(production, render):
    constraints = production.pod_spec["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in constraints] == ["topology.kubernetes.io/zone"]
    r = render({"topologySpread": {"enabled": False}})
    assert "topologySpreadConstraints" not in r.pod_spec
    r = render({"topologySpread": {"zones": ""}})
    assert [c["topologyKey"] for c in r.pod_spec["topologySpreadConstraints"]] == [
        "kubernetes.io/hostname"]


def test_priority_class_is_recommended(defaults, production):
    values_text = (CHART_DIR / "values.yaml").read_text()
    comment = values_text.split("priorityClassName:", 1)[0].rsplit("# --", 1)[1]
    assert "Recommended" in comment and "fails closed" in comment
    assert "priorityClassName" not in defaults.pod_spec, "no class that may not exist"
    assert production.pod_spec["priorityClassName"] == "platform-critical"


# --- drain versus the callers' detection time --------------------------------------------


def envoy_detection_seconds(yaml) -> float:
    cluster = envoy.cluster(envoy.reference(), envoy.AUTHZ_CLUSTER)
    [check] = cluster["health_checks"]
    return (duration_seconds(check["interval"]) * check["unhealthy_threshold"]
            + duration_seconds(check["timeout"]))


def test_drain_outlasts_envoys_detection_and_the_grace_period_outlasts_the_drain(defaults,
                                                                               yaml):
    drain = int(settings_data(defaults)["AUTHZ_DRAIN_SECONDS"])
    detection = envoy_detection_seconds(yaml)
    # Headless DNS removal: a 5 s record TTL plus Envoy's 5 s STRICT_DNS refresh.
    dns_removal = 10
    assert drain > max(detection, dns_removal), (drain, detection)
    grace = defaults.pod_spec["terminationGracePeriodSeconds"]
    assert grace >= drain + 10, "room for in-flight checks after the drain"


def test_production_example_keeps_the_same_margins(production, yaml):
    drain = int(settings_data(production)["AUTHZ_DRAIN_SECONDS"])
    assert drain > envoy_detection_seconds(yaml)
    assert production.pod_spec["terminationGracePeriodSeconds"] >= drain + 10


# --- alerts and dashboard ---------------------------------------------------------------


SERVICE_METRICS = {
    "cognito_ext_authz_decisions_total", "cognito_ext_authz_check_duration_seconds_bucket",
    "cognito_ext_authz_key_fetches_total", "cognito_ext_authz_policy_reloads_total",
    "cognito_ext_authz_token_cache_hits_total", "cognito_ext_authz_token_cache_misses_total",
    "cognito_ext_authz_revocation_reloads_total", "cognito_ext_authz_policy_file_refused",
}


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(cognito_ext_authz_[a-z_]+|kube_[a-z_]+|container_[a-z_]+)\b",
                          expr))


@pytest.fixture(scope="module")
def rules(render):
    r = render({"prometheusRule": {"enabled": True, "labels": {"release": "prom"}}})
    rule = r.one("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prom"
    [group] = rule["spec"]["groups"]
    return {x["alert"]: x for x in group["rules"]}


def test_alerts_cover_the_failures_an_operator_must_hear_of(rules):
    assert set(rules) >= {
        "CognitoExtAuthzPolicyReloadRefused", "CognitoExtAuthzKeyFetchFailing",
        "CognitoExtAuthzCheckLatencyHigh", "CognitoExtAuthzReplicasUnavailable",
        "CognitoExtAuthzNoReplicaReady",
    }
    refused = rules["CognitoExtAuthzPolicyReloadRefused"]["expr"]
    assert 'cognito_ext_authz_policy_reloads_total' in refused and 'result="failure"' in refused
    assert "cognito_ext_authz_key_fetches_total" in rules["CognitoExtAuthzKeyFetchFailing"]["expr"]
    latency = rules["CognitoExtAuthzCheckLatencyHigh"]["expr"]
    assert "histogram_quantile(0.99" in latency and latency.rstrip().endswith("> 0.05")
    assert rules["CognitoExtAuthzNoReplicaReady"]["labels"]["severity"] == "critical"
    for name, rule in rules.items():
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        # Scoped to this release, so two releases in one Prometheus do not mix.
        for metric in metric_names(rule["expr"]):
            assert f'namespace="{NAMESPACE}"' in rule["expr"], (name, metric)


def test_alerts_only_use_metrics_that_exist(rules):
    for name, rule in rules.items():
        for metric in metric_names(rule["expr"]):
            if metric.startswith("cognito_ext_authz_"):
                assert metric in SERVICE_METRICS, (name, metric)
            else:
                assert metric in {"kube_deployment_status_replicas_available",
                                  "kube_deployment_spec_replicas"}, (name, metric)


def test_alert_thresholds_are_values(render):
    r = render({"prometheusRule": {"enabled": True, "latencyP99Seconds": 0.2,
                                   "additionalLabels": {"team": "platform"},
                                   "severity": {"noReplicaReady": "warning"}}})
    [group] = r.one("PrometheusRule")["spec"]["groups"]
    by_name = {x["alert"]: x for x in group["rules"]}
    assert by_name["CognitoExtAuthzCheckLatencyHigh"]["expr"].rstrip().endswith("> 0.2")
    assert by_name["CognitoExtAuthzNoReplicaReady"]["labels"] == {"severity": "warning",
                                                                  "team": "platform"}


def test_monitoring_objects_are_optional(defaults):
    assert not defaults.of_kind("PrometheusRule")
    assert not [c for c in defaults.of_kind("ConfigMap")
                if c["metadata"]["name"].endswith("-dashboard")]


def test_grafana_dashboard_is_valid_and_uses_real_metrics(render):
    r = render({"grafanaDashboard": {"enabled": True, "namespace": "monitoring"}})
    [cm] = [c for c in r.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["cognito-ext-authz.json"])
    assert dashboard == json.loads((CHART_DIR / "dashboards" / "cognito-ext-authz.json").read_text())
    assert dashboard["uid"] and dashboard["title"] == "cognito-ext-authz"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "namespace"} <= variables
    used = set()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            used |= metric_names(target["expr"])
    service_metrics = {m for m in used if m.startswith("cognito_ext_authz_")}
    assert service_metrics <= SERVICE_METRICS, service_metrics - SERVICE_METRICS
    assert {"cognito_ext_authz_decisions_total", "cognito_ext_authz_check_duration_seconds_bucket",
            "cognito_ext_authz_key_fetches_total", "cognito_ext_authz_policy_reloads_total",
            "kube_deployment_status_replicas_available"} <= used


# --- helm test ----------------------------------------------------------------------------


def test_helm_test_pod_checks_readiness_through_the_service(defaults):
    [pod] = defaults.of_kind("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [container] = pod["spec"]["containers"]
    url = container["args"][-1]
    assert url == f"http://{RELEASE}.{NAMESPACE}.svc.cluster.local:9090/readyz"
    assert "--fail" in container["args"], "a 503 must fail the test"
    assert container["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["restartPolicy"] == "Never"
    template = (CHART_DIR / "templates" / "tests" / "test-ready.yaml").read_text()
    assert "Policy tests belong here" in template


def test_helm_test_pod_may_pass_the_network_policy(production):
    policy = production.one("NetworkPolicy")
    [pod] = production.of_kind("Pod")
    allowed = [rule for rule in policy["spec"]["ingress"]
               if any(p["port"] == "http-admin" for p in rule["ports"])
               for peer in rule["from"]
               if "podSelector" in peer and all(
                   pod["metadata"]["labels"].get(k) == v
                   for k, v in peer["podSelector"]["matchLabels"].items())]
    assert allowed, "the test pod could not reach /readyz"


# --- chart metadata -----------------------------------------------------------------------


def test_chart_names_maintainers_and_sources(chart, yaml):
    meta = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert meta["maintainers"] and all(m["name"] for m in meta["maintainers"])
    assert meta["sources"] and all(s.startswith("https://") for s in meta["sources"])
