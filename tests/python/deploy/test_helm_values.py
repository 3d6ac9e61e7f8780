"""The values an operator sets to fit the chart to a cluster: object names, labels and
annotations, pull secrets, the service account, the Service, probe timings, scheduling,
extra volumes and arguments, rollout history and the cluster domain.

Each test renders the documented release (`cognito-ext-authz` in namespace
`cognito-ext-authz`) with one concern's values, each different from its default so that a
chart ignoring it fails the test, and reads the manifests an operator would read. A
render checks the values against values.schema.json first (a refused value fails it); the
last tests render every value here at once, lint-clean and valid for Kubernetes.
"""

from __future__ import annotations

import copy

import pytest

from .common import CHART_DIR, KUBE_VERSION, NAMESPACE, RELEASE

# Every optional object on, so that names and labels are checked on all of them; a policy
# test case so that the `helm test` pod running the release's image exists too.
ALL_OBJECTS = {
    "service": {"headless": {"enabled": True}},
    "autoscaling": {"enabled": True},
    "serviceMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "grafanaDashboard": {"enabled": True},
    "networkPolicy": {"enabled": True},
    "helmTest": {"policyTests": [{"name": "nothing is public",
                                  "request": {"method": "GET", "path": "/"},
                                  "expect": {"status": 403}}]},
}
HOOK_JOB = "policy-check"
READY_POD = "test-ready"
POLICY_TEST_POD = "test-policy"


def merge(base: dict, values: dict) -> dict:
    """`values` over `base`, maps merged key by key as Helm merges values files."""
    merged = copy.deepcopy(base)
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def with_all_objects(values: dict) -> dict:
    return merge(ALL_OBJECTS, values)


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def pod_labels(r) -> dict:
    return r.deployment["spec"]["template"]["metadata"]["labels"]


def pod_specs(r) -> dict[str, dict]:
    """Every pod the release runs, by what it is: the service, the policy gate (hook Job),
    and the two `helm test` pods."""
    fullname = r.deployment["metadata"]["name"]
    specs = {"service": r.pod_spec,
             HOOK_JOB: r.one("Job", f"{fullname}-{HOOK_JOB}")["spec"]["template"]["spec"]}
    for suffix in (READY_POD, POLICY_TEST_POD):
        specs[suffix] = r.one("Pod", f"{fullname}-{suffix}")["spec"]
    return specs


# --- names: nameOverride, fullnameOverride ----------------------------------------------


def assert_named_and_wired(r, fullname: str, name_label: str) -> None:
    """Every object carries `fullname` (alone or as a prefix) and the name label, and every
    reference between objects follows: nothing points at an object under the old name."""
    namespace = r.deployment["metadata"]["namespace"]
    for obj in r.objects:
        name = obj["metadata"]["name"]
        assert name == fullname or name.startswith(f"{fullname}-"), (obj["kind"], name)
        if obj["kind"] != "Pod":  # helm test pods carry no name label by design
            assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == name_label, name

    assert r.deployment["metadata"]["name"] == fullname
    spec = r.pod_spec
    configmaps = {c["metadata"]["name"] for c in r.of_kind("ConfigMap")}
    assert r.container["envFrom"] == [{"configMapRef": {"name": f"{fullname}-settings"}}]
    policy_volume = next(v for v in spec["volumes"] if v["name"] == "policy")
    assert policy_volume["configMap"]["name"] == f"{fullname}-policy"
    assert {f"{fullname}-settings", f"{fullname}-policy"} <= configmaps
    assert spec["serviceAccountName"] == fullname
    assert r.one("ServiceAccount")["metadata"]["name"] == fullname

    service = r.one("Service", fullname)
    headless = r.one("Service", f"{fullname}-headless")
    for svc in (service, headless):
        assert selects(svc["spec"]["selector"], pod_labels(r)), svc["metadata"]["name"]
    assert selects(r.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"], pod_labels(r))
    assert selects(r.one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"], pod_labels(r))
    assert r.one("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == fullname
    monitor = r.one("ServiceMonitor")
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    for constraint in spec["topologySpreadConstraints"]:
        assert selects(constraint["labelSelector"]["matchLabels"], pod_labels(r))

    [group] = r.one("PrometheusRule")["spec"]["groups"]
    exprs = " ".join(rule["expr"] for rule in group["rules"])
    assert f'deployment="{fullname}"' in exprs and f'service="{fullname}"' in exprs

    hook_volume = pod_specs(r)[HOOK_JOB]["volumes"][0]
    assert hook_volume["configMap"]["name"] == f"{fullname}-{HOOK_JOB}"
    assert f"{fullname}-{HOOK_JOB}" in configmaps

    fqdn = f"{fullname}.{namespace}.svc.cluster.local"
    ready = r.one("Pod", f"{fullname}-{READY_POD}")["spec"]["containers"][0]
    assert ready["args"][-1] == f"http://{fqdn}:9090/readyz"
    assert f"ext_authz gRPC endpoint: {fqdn}:9000" in r.notes
    assert f"service: {fqdn}" in r.notes, "the Istio extension provider names the Service"
    assert f"deployment/{fullname}" in r.notes


def test_name_override_renames_every_object_and_the_name_label(render):
    r = render(with_all_objects({"nameOverride": "gatekeeper"}))
    assert_named_and_wired(r, "cognito-ext-authz-gatekeeper", "gatekeeper")


def test_name_override_already_in_the_release_name_keeps_the_release_name(render):
    """A release called `gatekeeper-prod` with nameOverride `gatekeeper` is not named
    `gatekeeper-prod-gatekeeper`."""
    r = render(with_all_objects({"nameOverride": "gatekeeper"}), name="gatekeeper-prod")
    assert_named_and_wired(r, "gatekeeper-prod", "gatekeeper")


def test_fullname_override_names_every_object_and_keeps_the_name_label(render):
    r = render(with_all_objects({"fullnameOverride": "edge-authz"}))
    assert_named_and_wired(r, "edge-authz", "cognito-ext-authz")


# --- labels, annotations, pull secrets --------------------------------------------------


def test_common_labels_are_on_every_object_and_never_in_a_selector(render):
    common = {"team": "payments", "cost-center": "cc-42"}
    before = render(with_all_objects({}))
    r = render(with_all_objects({"commonLabels": common}))
    for obj in r.objects:
        labels = obj["metadata"]["labels"]
        assert {k: labels.get(k) for k in common} == common, (obj["kind"], obj["metadata"]["name"])
    hook = r.one("Job", f"{RELEASE}-{HOOK_JOB}")
    for what, labels in {"service pods": pod_labels(r),
                         "hook pods": hook["spec"]["template"]["metadata"]["labels"]}.items():
        assert {k: labels.get(k) for k in common} == common, what
    # A Deployment's selector is immutable: adding labels on an upgrade must not touch it,
    # nor what the Service and the disruption budget select.
    assert r.deployment["spec"]["selector"] == before.deployment["spec"]["selector"]
    assert (r.one("Service", RELEASE)["spec"]["selector"]
            == before.one("Service", RELEASE)["spec"]["selector"])
    assert (r.one("PodDisruptionBudget")["spec"]["selector"]
            == before.one("PodDisruptionBudget")["spec"]["selector"])


def test_image_pull_secrets_reach_every_pod(render):
    """The service, the policy gate and the policy tests all run the release's image: from
    a private registry, each needs the pull secret, or the install hangs on ImagePullBackOff."""
    secrets = [{"name": "registry-credentials"}, {"name": "mirror-credentials"}]
    r = render(with_all_objects({"imagePullSecrets": secrets}))
    for what, spec in pod_specs(r).items():
        assert spec["imagePullSecrets"] == secrets, what
    assert all("imagePullSecrets" not in spec
               for spec in pod_specs(render(with_all_objects({}))).values())


def test_pod_annotations_and_labels_are_on_the_service_pods(render):
    annotations = {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
                   "sidecar.istio.io/inject": "false"}
    labels = {"cost-center": "cc-42"}
    r = render({"podAnnotations": annotations, "podLabels": labels})
    template = r.deployment["spec"]["template"]["metadata"]
    assert {k: template["annotations"].get(k) for k in annotations} == annotations
    assert "checksum/settings" in template["annotations"], "settings changes still roll the pods"
    assert {k: template["labels"].get(k) for k in labels} == labels
    assert "cost-center" not in r.deployment["spec"]["selector"]["matchLabels"]
    assert "cost-center" not in r.one("Service", RELEASE)["spec"]["selector"]


# --- the service account ----------------------------------------------------------------


def test_service_account_is_the_full_name_by_default(render):
    r = render({})
    account = r.one("ServiceAccount")
    assert account["metadata"]["name"] == RELEASE
    assert "annotations" not in account["metadata"]
    assert account["automountServiceAccountToken"] is False
    assert r.pod_spec["serviceAccountName"] == RELEASE


def test_service_account_name_and_annotations(render):
    """E.g. an IAM role for the pods (IRSA), which reads the ServiceAccount's annotation."""
    annotations = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/authz"}
    r = render({"serviceAccount": {"name": "authz-irsa", "annotations": annotations}})
    account = r.one("ServiceAccount")
    assert account["metadata"]["name"] == "authz-irsa"
    assert account["metadata"]["annotations"] == annotations
    assert r.pod_spec["serviceAccountName"] == "authz-irsa"


def test_an_existing_service_account_is_used_not_created(render):
    r = render({"serviceAccount": {"create": False, "name": "platform-authz"}})
    assert not r.of_kind("ServiceAccount")
    assert r.pod_spec["serviceAccountName"] == "platform-authz"


def test_without_a_service_account_the_pods_use_the_namespace_default(render):
    r = render({"serviceAccount": {"create": False}})
    assert not r.of_kind("ServiceAccount")
    assert r.pod_spec["serviceAccountName"] == "default"


def test_service_account_token_is_mounted_only_when_asked(render):
    r = render({"serviceAccount": {"automountServiceAccountToken": True}})
    assert r.one("ServiceAccount")["automountServiceAccountToken"] is True
    assert r.pod_spec["automountServiceAccountToken"] is True


# --- the Services -----------------------------------------------------------------------


@pytest.mark.parametrize("service_type", ["NodePort", "LoadBalancer"])
def test_service_type_and_annotations(render, service_type):
    """Each Service carries its own annotations; the headless one stays headless whatever
    the main Service's type."""
    annotations = {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}
    headless_annotations = {"external-dns.alpha.kubernetes.io/hostname": "authz.example.com"}
    r = render({"service": {"type": service_type, "annotations": annotations,
                            "headless": {"enabled": True, "annotations": headless_annotations}}})
    service = r.one("Service", RELEASE)
    assert service["spec"]["type"] == service_type
    assert service["metadata"]["annotations"] == annotations
    headless = r.one("Service", f"{RELEASE}-headless")
    assert headless["spec"]["type"] == "ClusterIP" and headless["spec"]["clusterIP"] == "None"
    assert headless["metadata"]["annotations"] == headless_annotations


def test_services_have_no_annotations_by_default(render):
    r = render({"service": {"headless": {"enabled": True}}})
    assert r.one("Service", RELEASE)["spec"]["type"] == "ClusterIP"
    for service in r.of_kind("Service"):
        assert "annotations" not in service["metadata"], service["metadata"]["name"]


# --- probe timings ----------------------------------------------------------------------

PROBES = {"startup": "startupProbe", "liveness": "livenessProbe", "readiness": "readinessProbe"}
HEALTHZ = {"httpGet": {"path": "/healthz", "port": "http-admin"}}
HANDLERS = {"startup": HEALTHZ, "liveness": HEALTHZ,
            "readiness": {"grpc": {"port": 9000, "service": ""}}}
# The timings values.yaml documents (the startup probe holds liveness off for up to 30 s).
DEFAULT_TIMINGS = {
    "startup": {"initialDelaySeconds": 0, "periodSeconds": 1, "timeoutSeconds": 2,
                "failureThreshold": 30},
    "liveness": {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 2,
                 "failureThreshold": 3},
    "readiness": {"initialDelaySeconds": 0, "periodSeconds": 5, "timeoutSeconds": 2,
                  "failureThreshold": 2, "successThreshold": 1},
}
# Every field a user can set, each off its default (successThreshold is readiness-only:
# Kubernetes requires 1 for startup and liveness, and the schema refuses it there).
TIMINGS = {
    "startup": {"initialDelaySeconds": 3, "periodSeconds": 2, "timeoutSeconds": 4,
                "failureThreshold": 45},
    "liveness": {"initialDelaySeconds": 5, "periodSeconds": 20, "timeoutSeconds": 3,
                 "failureThreshold": 6},
    "readiness": {"initialDelaySeconds": 1, "periodSeconds": 3, "timeoutSeconds": 1,
                  "failureThreshold": 4, "successThreshold": 2},
}


@pytest.mark.parametrize("probe", PROBES)
def test_probe_defaults(render, probe):
    assert render({}).container[PROBES[probe]] == {**HANDLERS[probe], **DEFAULT_TIMINGS[probe]}


@pytest.mark.parametrize("probe", PROBES)
def test_probe_timings_are_values(render, probe):
    timings = TIMINGS[probe]
    assert set(timings) == set(DEFAULT_TIMINGS[probe]), "every field a user can set"
    assert all(timings[k] != DEFAULT_TIMINGS[probe][k] for k in timings), "each off its default"
    container = render({"probes": {probe: timings}}).container
    assert container[PROBES[probe]] == {**HANDLERS[probe], **timings}
    for other in set(PROBES) - {probe}:
        assert container[PROBES[other]] == {**HANDLERS[other], **DEFAULT_TIMINGS[other]}, other


def test_one_probe_timing_keeps_the_others(render):
    """Helm merges maps: setting one field leaves the other timings of that probe as they were."""
    probe = render({"probes": {"liveness": {"periodSeconds": 30}}}).container["livenessProbe"]
    assert probe == {**HEALTHZ, **DEFAULT_TIMINGS["liveness"], "periodSeconds": 30}


def test_readiness_timings_apply_under_tls(render):
    """With TLS on, readiness asks /readyz instead of gRPC health, with the same timings."""
    values = {"tls": {"enabled": True, "secretName": "authz-grpc-tls"},
              "probes": {"readiness": TIMINGS["readiness"]}}
    probe = render(values).container["readinessProbe"]
    assert probe == {"httpGet": {"path": "/readyz", "port": "http-admin"}, **TIMINGS["readiness"]}


# --- scheduling -------------------------------------------------------------------------

NODE_SELECTOR = {"kubernetes.io/arch": "arm64", "node-pool": "platform"}
TOLERATIONS = [{"key": "dedicated", "operator": "Equal", "value": "platform",
                "effect": "NoSchedule"}]


def test_node_selector_and_tolerations_reach_every_pod(render):
    """On nodes set aside for the platform (selected, tainted), the policy gate and the
    `helm test` pods must be able to run there too, or the install and `helm test` hang
    on Pending pods."""
    r = render(with_all_objects({"nodeSelector": NODE_SELECTOR, "tolerations": TOLERATIONS}))
    for what, spec in pod_specs(r).items():
        assert spec["nodeSelector"] == NODE_SELECTOR, what
        assert spec["tolerations"] == TOLERATIONS, what
    for what, spec in pod_specs(render(with_all_objects({}))).items():
        assert "nodeSelector" not in spec and "tolerations" not in spec, what


def hook_pod_metadata(r) -> dict[str, dict]:
    """Labels and annotations of the pods that run once and end, by what they are."""
    fullname = r.deployment["metadata"]["name"]
    metas = {HOOK_JOB: r.one("Job", f"{fullname}-{HOOK_JOB}")["spec"]["template"]["metadata"]}
    for suffix in (READY_POD, POLICY_TEST_POD):
        metas[suffix] = r.one("Pod", f"{fullname}-{suffix}")["metadata"]
    return metas


def test_hook_and_test_pods_opt_out_of_sidecar_injection_and_the_service_pods_do_not(render):
    """In a sidecar-injected namespace an injected proxy never exits, so the policy gate's
    Job would never complete (the install waits out its deadline) and `helm test` would
    hang. The opt-out is per pod: the service's own pods keep the namespace's injection."""
    r = render(with_all_objects({}))
    for what, meta in hook_pod_metadata(r).items():
        assert meta["labels"]["sidecar.istio.io/inject"] == "false", what
        assert meta["annotations"]["linkerd.io/inject"] == "disabled", what
    assert "sidecar.istio.io/inject" not in pod_labels(r)
    assert "linkerd.io/inject" not in (r.deployment["spec"]["template"]["metadata"]
                                       .get("annotations") or {})
    # helm test pods keep their hook annotations beside the opt-out
    fullname = r.deployment["metadata"]["name"]
    ready = r.one("Pod", f"{fullname}-{READY_POD}")["metadata"]["annotations"]
    assert ready["helm.sh/hook"] == "test"

    r = render(with_all_objects({"hookPods": {"disableSidecarInjection": False}}))
    for what, meta in hook_pod_metadata(r).items():
        assert "sidecar.istio.io/inject" not in meta["labels"], what
        assert "linkerd.io/inject" not in (meta.get("annotations") or {}), what


def test_hook_pods_take_their_own_labels_annotations_and_scheduling(render):
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "node-pool", "operator": "In", "values": ["jobs"]}]}]}}}
    hook = {"podLabels": {"team": "platform"},
            "podAnnotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"},
            "nodeSelector": {"node-pool": "jobs"}, "affinity": affinity,
            "priorityClassName": "batch-low"}
    r = render(with_all_objects({"hookPods": hook, "nodeSelector": NODE_SELECTOR,
                                 "tolerations": TOLERATIONS}))
    for what, meta in hook_pod_metadata(r).items():
        assert meta["labels"]["team"] == "platform", what
        assert meta["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "true"
    specs = pod_specs(r)
    for what in (HOOK_JOB, READY_POD, POLICY_TEST_POD):
        assert specs[what]["nodeSelector"] == {"node-pool": "jobs"}, what
        assert specs[what]["tolerations"] == TOLERATIONS, what  # the service's, not overridden
        assert specs[what]["affinity"] == affinity, what
        assert specs[what]["priorityClassName"] == "batch-low", what
    assert specs["service"]["nodeSelector"] == NODE_SELECTOR
    assert "team" not in pod_labels(r)
    assert "priorityClassName" not in specs["service"]


def test_affinity_reaches_the_service_pods(render):
    affinity = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                                   "values": ["m7g.large", "m7g.xlarge"]}]}]}},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {
                "topologyKey": "kubernetes.io/hostname",
                "labelSelector": {"matchLabels": {"app": "envoy-gateway"}}}}]},
    }
    assert "affinity" not in render({}).pod_spec
    assert render({"affinity": affinity}).pod_spec["affinity"] == affinity


def test_priority_class_reaches_the_service_pods(render):
    r = render({"priorityClassName": "platform-critical"})
    assert r.pod_spec["priorityClassName"] == "platform-critical"
    assert "Recommended: set priorityClassName" not in r.notes
    assert "Recommended: set priorityClassName" in render({}).notes


def test_own_topology_spread_constraints_are_rendered_as_given(render):
    constraints = [{
        "maxSkew": 2,
        "minDomains": 3,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "cognito-ext-authz",
                                          "app.kubernetes.io/instance": RELEASE}},
        "matchLabelKeys": ["pod-template-hash"],
    }]
    assert render({"topologySpreadConstraints": constraints}).pod_spec[
        "topologySpreadConstraints"] == constraints


@pytest.mark.parametrize("spread, expected", [
    ({"nodes": "ScheduleAnyway", "zones": "DoNotSchedule"},
     {"kubernetes.io/hostname": "ScheduleAnyway", "topology.kubernetes.io/zone": "DoNotSchedule"}),
    ({"nodes": ""}, {"topology.kubernetes.io/zone": "ScheduleAnyway"}),
], ids=["soft-nodes-hard-zones", "zones-only"])
def test_default_spread_strictness_is_a_value(render, spread, expected):
    constraints = render({"topologySpread": spread}).pod_spec["topologySpreadConstraints"]
    assert {c["topologyKey"]: c["whenUnsatisfiable"] for c in constraints} == expected


# --- extra volumes, mounts and arguments ------------------------------------------------


def test_extra_volumes_and_mounts_sit_beside_the_policy(render):
    """The documented way to a revocation list larger than the policy ConfigMap holds
    (docs/install.md): a ConfigMap of one's own, mounted as a folder (hot reload), and
    AUTHZ_REVOCATIONS_PATH pointing into it."""
    volume = {"name": "revocations", "configMap": {"name": "authz-revocations"}}
    mount = {"name": "revocations", "mountPath": "/etc/cognito-ext-authz-revocations",
             "readOnly": True}
    path = "/etc/cognito-ext-authz-revocations/revocations.yaml"
    r = render({"extraVolumes": [volume], "extraVolumeMounts": [mount],
                "extraEnv": [{"name": "AUTHZ_REVOCATIONS_PATH", "value": path}]})
    volumes = {v["name"]: v for v in r.pod_spec["volumes"]}
    mounts = {m["name"]: m for m in r.container["volumeMounts"]}
    assert set(volumes) == set(mounts) == {"policy", "tmp", "revocations"}
    assert volumes["revocations"] == volume
    assert mounts["revocations"] == mount
    assert mounts["policy"]["mountPath"] == "/etc/cognito-ext-authz", "the policy mount is kept"
    assert {"name": "AUTHZ_REVOCATIONS_PATH", "value": path} in r.container["env"]


def test_extra_args_follow_serve_in_order(render):
    """`serve` flags override the environment; values such as `[::]:9000` reach the
    process as text, not as YAML."""
    extra = ["--listen", "[::]:9000", "--admin", "[::]:9090"]
    r = render({"extraArgs": extra})
    assert r.container["args"] == ["serve", *extra]
    # The policy gate runs `validate`, which takes none of serve's flags.
    job = r.one("Job", f"{RELEASE}-{HOOK_JOB}")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "validate", "/etc/cognito-ext-authz/policy.yaml"]
    assert render({}).container["args"] == ["serve"]


# --- rollout history, cluster domain ----------------------------------------------------


@pytest.mark.parametrize("values, kept", [({}, 5), ({"revisionHistoryLimit": 12}, 12),
                                          ({"revisionHistoryLimit": 0}, 0)],
                         ids=["default", "twelve", "zero"])
def test_revision_history_limit(render, values, kept):
    """How many old ReplicaSets `kubectl rollout undo` can go back to; 0 keeps none (and
    must not fall back to Kubernetes' default of 10)."""
    assert render(values).deployment["spec"]["revisionHistoryLimit"] == kept


def test_progress_deadline_is_a_value(render):
    assert render({}).deployment["spec"]["progressDeadlineSeconds"] == 300
    r = render({"progressDeadlineSeconds": 900})
    assert r.deployment["spec"]["progressDeadlineSeconds"] == 900


def test_cluster_domain_names_the_service_in_the_notes_and_the_helm_test(render):
    r = render({"clusterDomain": "corp.internal", "service": {"headless": {"enabled": True}}})
    fqdn = f"{RELEASE}.{NAMESPACE}.svc.corp.internal"
    assert f"ext_authz gRPC endpoint: {fqdn}:9000" in r.notes
    assert f"service: {fqdn}" in r.notes, "the Istio extension provider"
    assert f"{RELEASE}-headless.{NAMESPACE}.svc.corp.internal:9000" in r.notes
    assert "cluster.local" not in r.notes
    ready = r.one("Pod", f"{RELEASE}-{READY_POD}")["spec"]["containers"][0]
    assert ready["args"][-1] == f"http://{fqdn}:9090/readyz"


# --- all of the above at once -----------------------------------------------------------

EVERY_OVERRIDE = with_all_objects({
    "nameOverride": "gatekeeper",
    "commonLabels": {"team": "payments"},
    "clusterDomain": "corp.internal",
    "imagePullSecrets": [{"name": "registry-credentials"}],
    "revisionHistoryLimit": 0,
    "progressDeadlineSeconds": 900,
    "extraArgs": ["--listen", "[::]:9000"],
    "extraEnv": [{"name": "AUTHZ_REVOCATIONS_PATH",
                  "value": "/etc/cognito-ext-authz-revocations/revocations.yaml"}],
    "extraVolumes": [{"name": "revocations", "configMap": {"name": "authz-revocations"}}],
    "extraVolumeMounts": [{"name": "revocations",
                           "mountPath": "/etc/cognito-ext-authz-revocations", "readOnly": True}],
    "service": {"type": "LoadBalancer",
                "annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"},
                "headless": {"annotations": {"external-dns.alpha.kubernetes.io/hostname":
                                             "authz.example.com"}}},
    "serviceAccount": {"name": "authz-irsa",
                       "annotations": {"eks.amazonaws.com/role-arn":
                                       "arn:aws:iam::123456789012:role/authz"}},
    "podAnnotations": {"sidecar.istio.io/inject": "false"},
    "podLabels": {"cost-center": "cc-42"},
    "probes": TIMINGS,
    "priorityClassName": "platform-critical",
    "nodeSelector": NODE_SELECTOR,
    "tolerations": TOLERATIONS,
    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                            "labelSelector": {"matchLabels": {"a": "b"}}}}]}},
    "topologySpread": {"nodes": "ScheduleAnyway", "zones": "DoNotSchedule"},
    "hookPods": {"podLabels": {"team": "platform"}, "podAnnotations": {"a": "b"},
                 "nodeSelector": {"node-pool": "jobs"}, "tolerations": TOLERATIONS,
                 "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                     {"weight": 1, "preference": {"matchExpressions": [
                         {"key": "node-pool", "operator": "In", "values": ["jobs"]}]}}]}},
                 "priorityClassName": "batch-low"},
})
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}  # checked against their CRD schemas elsewhere


def test_every_override_at_once_passes_the_schema_and_lint(helm, chart):
    chart.validate_schema(copy.deepcopy(EVERY_OVERRIDE))
    report = helm.lint(CHART_DIR, copy.deepcopy(EVERY_OVERRIDE), strict=True,
                       namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}")
    assert not [m for m in report["messages"] if m["severity"] >= 2], report["messages"]
    assert not report["errors"], report["errors"]


def test_every_override_at_once_is_valid_for_kubernetes(render, kubernetes_validate):
    r = render(copy.deepcopy(EVERY_OVERRIDE))
    for obj in r.objects:
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.utils.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")
