"""`policyConfigMaps`: many teams, one service. Each team's ConfigMap (managed outside the
chart) and the chart's own `policy` become one policy folder the service reads, mounted so
that updates arrive by the kubelet's `..data` swap; the service reads the folder the chart
names, each file with its own pools, and a file claiming another's route is refused."""

from __future__ import annotations

import subprocess

import pytest

from .common import KUBE_VERSION, RELEASE, service_binary

FOLDER = "/etc/cognito-ext-authz-policies"
PLATFORM = {"userPools": [{"id": "eu-west-1_Platform1"}],
            "routes": [{"name": "health", "path": "/health", "auth": "none"}]}
ORDERS = """\
# The orders team's policy (their own ConfigMap, their own pipeline).
userPools:
  - id: eu-west-1_Orders123
routes:
  - name: orders
    hosts: [orders.example.com]
    path: /orders/{id}
    scopes: [orders/read]
"""
BILLING = ORDERS.replace("Orders123", "Billing12").replace("orders.example.com",
                                                            "billing.example.com") \
    .replace("name: orders", "name: billing").replace("/orders/", "/invoices/")


def team_configmap(name: str, files: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": files}


def policies_volume(pod_spec) -> dict:
    [volume] = [v for v in pod_spec["volumes"] if v["name"] == "policies"]
    return volume["projected"]


def lay_out(r, tmp_path, external: list[dict]):
    """The projected folder as the kubelet lays it out, from the rendered Deployment."""
    folder = tmp_path / FOLDER.lstrip("/")
    folder.mkdir(parents=True)
    by_name = {c["metadata"]["name"]: c for c in external}
    for source in policies_volume(r.pod_spec)["sources"]:
        ref = source["configMap"]
        data = by_name[ref["name"]]["data"] if ref["name"] in by_name \
            else r.one("ConfigMap", ref["name"])["data"]
        for item in ref["items"]:
            (folder / item["path"]).write_text(data[item["key"]])
    return folder


def validate(folder) -> subprocess.CompletedProcess:
    return subprocess.run([str(service_binary()), "validate", str(folder)],
                          capture_output=True, text=True, timeout=60)


def test_one_file_by_default(render):
    r = render({"policy": PLATFORM})
    settings = r.one("ConfigMap", f"{RELEASE}-settings")["data"]
    assert settings["AUTHZ_POLICY_PATH"] == "/etc/cognito-ext-authz/policy.yaml"
    assert not [v for v in r.pod_spec["volumes"] if v["name"] == "policies"]


def test_team_configmaps_and_the_chart_policy_make_one_folder(render, tmp_path,
                                                               kubernetes_validate):
    r = render({"policy": PLATFORM, "policyConfigMaps": ["orders-policy", "billing-policy"]})
    settings = r.one("ConfigMap", f"{RELEASE}-settings")["data"]
    assert settings["AUTHZ_POLICY_PATH"] == FOLDER
    [mount] = [m for m in r.container["volumeMounts"] if m["name"] == "policies"]
    # A folder of its own (never inside the read-only ConfigMap mount, never a subPath).
    assert mount["mountPath"] == FOLDER and "subPath" not in mount
    assert not FOLDER.startswith("/etc/cognito-ext-authz/")
    names = [s["configMap"]["name"] for s in policies_volume(r.pod_spec)["sources"]]
    assert names == [f"{RELEASE}-policy", "orders-policy", "billing-policy"]
    kubernetes_validate.validate(r.deployment, KUBE_VERSION, strict=True)

    teams = [team_configmap("orders-policy", {"policy.yaml": ORDERS}),
             team_configmap("billing-policy", {"policy.yaml": BILLING})]
    folder = lay_out(r, tmp_path, teams)
    result = validate(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 user pool(s)" in result.stdout
    for route, file in (("orders", "orders-policy.yaml"), ("billing", "billing-policy.yaml"),
                        ("health", f"{RELEASE}-policy.yaml")):
        assert any(line.split()[0] == route and line.endswith(f"({file})")
                   for line in result.stdout.splitlines()[2:]), result.stdout


def test_a_team_claiming_another_teams_route_is_named(render, tmp_path):
    r = render({"policy": PLATFORM, "policyConfigMaps": ["orders-policy", "billing-policy"]})
    thief = BILLING.replace("billing.example.com", "orders.example.com") \
        .replace("/invoices/", "/orders/")
    folder = lay_out(r, tmp_path, [team_configmap("orders-policy", {"policy.yaml": ORDERS}),
                                   team_configmap("billing-policy", {"policy.yaml": thief})])
    result = validate(folder)
    assert result.returncode == 1
    # Both places named (files are read in name order: the later one is the duplicate).
    assert "orders-policy.yaml: routes[0] (orders): overlaps billing-policy.yaml: routes[0] (billing)" \
        in result.stderr, result.stderr


def test_without_a_chart_policy_only_the_teams_files_are_read(render):
    r = render({"policyConfigMaps": ["orders-policy"]})
    names = [s["configMap"]["name"] for s in policies_volume(r.pod_spec)["sources"]]
    assert names == ["orders-policy"], "the chart's example pool is not merged into theirs"


def test_each_configmap_gives_one_file_named_after_it(render):
    """Two ConfigMaps with the same key (`policy.yaml`, the natural one) must never give
    one file: the kubelet would keep one of them without a word, and the other team's
    routes would be gone."""
    r = render({"policyConfigMaps": ["orders-policy", {"name": "billing", "key": "api.yaml"}]})
    items = [(s["configMap"]["name"], s["configMap"]["items"])
             for s in policies_volume(r.pod_spec)["sources"]]
    assert items == [("orders-policy", [{"key": "policy.yaml", "path": "orders-policy.yaml"}]),
                     ("billing", [{"key": "api.yaml", "path": "billing.yaml"}])]


@pytest.mark.parametrize("bad", [
    {"policyConfigMaps": ["Not_A_Name"]},
    {"policyConfigMaps": ["a", "a"]},
    {"policyConfigMaps": ["a", {"name": "a", "key": "other.yaml"}]},
    {"policyConfigMaps": [f"{RELEASE}-policy"], "policy": PLATFORM},
    {"policyConfigMaps": [{"key": "x.yaml"}]},
    {"policyConfigMaps": [{"name": "a", "key": "no/slash"}]},
    {"policyConfigMaps": "orders-policy"},
])
def test_bad_values_are_refused(helm, render, bad):
    with pytest.raises(helm.HelmError):
        render(bad)


def test_an_existing_policy_configmap_goes_in_the_list_instead(helm, render):
    with pytest.raises(helm.HelmError, match="policyConfigMaps"):
        render({"existingPolicyConfigMap": "mine", "policyConfigMaps": ["orders-policy"]})


def test_a_refused_file_raises_an_alert_naming_it(render):
    r = render({"prometheusRule": {"enabled": True}, "policyConfigMaps": ["orders-policy"]})
    [group] = r.one("PrometheusRule")["spec"]["groups"]
    rule = {x["alert"]: x for x in group["rules"]}["CognitoExtAuthzPolicyFileRefused"]
    assert "cognito_ext_authz_policy_file_refused" in rule["expr"]
    assert "file" in rule["expr"]
