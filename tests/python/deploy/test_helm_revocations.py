"""The chart's `revocations` value: none by default; a list becomes `revocations.yaml` in the
policy ConfigMap (hot-reloaded, no pod restart), AUTHZ_REVOCATIONS_PATH in the settings,
the hook validates it, and what it renders is what the service reads."""

from __future__ import annotations

import pytest

from .common import KUBE_VERSION, RELEASE, run_container

HOOK = f"{RELEASE}-policy-check"
PATH = "/etc/cognito-ext-authz/revocations.yaml"
POLICY = {"userPools": [{"id": "eu-west-1_Abc123XyZ"}],
          "routes": [{"path": "/orders/{id}", "scopes": ["orders/read"]}]}
LIST = [
    {"jti": "6f1c2d3e-0000-4000-8000-000000000001", "reason": "leaked in a log",
     "addedAt": "2026-11-26T10:00:00Z"},
    {"originJti": "0b7e1f2a-0000-4000-8000-000000000002"},
    {"sub": "7d0e1f2a-0000-4000-8000-000000000003", "issuedBefore": "2026-11-26T10:00:00Z"},
    # Epoch seconds: Helm holds numbers as floats; the service reads either.
    {"sub": "7d0e1f2a-0000-4000-8000-000000000004", "issuedBefore": 1795687200},
]


def settings(r) -> dict:
    return r.one("ConfigMap", f"{RELEASE}-settings")["data"]


def checksum(r) -> str:
    return r.deployment["spec"]["template"]["metadata"]["annotations"]["checksum/settings"]


def policy_volume_items(pod_spec) -> list[str]:
    [volume] = [v for v in pod_spec["volumes"] if v["name"] == "policy"]
    return [i["key"] for i in volume["configMap"]["items"]]


def test_no_revocation_list_by_default(render):
    r = render({})
    assert "AUTHZ_REVOCATIONS_PATH" not in settings(r)
    assert set(r.one("ConfigMap", f"{RELEASE}-policy")["data"]) == {"policy.yaml"}
    assert policy_volume_items(r.pod_spec) == ["policy.yaml"]
    assert "--revocations" not in r.one("Job", HOOK)["spec"]["template"]["spec"]["containers"][0]["args"]


def test_a_list_is_rendered_beside_the_policy_and_named_in_the_settings(render, yaml,
                                                                       kubernetes_validate):
    r = render({"policy": POLICY, "revocations": LIST})
    live = r.one("ConfigMap", f"{RELEASE}-policy")
    rendered = yaml.safe_load(live["data"]["revocations.yaml"])
    assert rendered == {"revocations": LIST}
    assert settings(r)["AUTHZ_REVOCATIONS_PATH"] == PATH
    assert policy_volume_items(r.pod_spec) == ["policy.yaml", "revocations.yaml"]
    [mount] = [m for m in r.container["volumeMounts"] if m["name"] == "policy"]
    assert PATH.startswith(mount["mountPath"] + "/") and "subPath" not in mount
    # The gate checks exactly what will be mounted.
    hook_cm = r.one("ConfigMap", HOOK)
    assert hook_cm["data"] == live["data"]
    job = r.one("Job", HOOK)
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["args"][-2:] == ["--revocations", PATH]
    assert policy_volume_items(job["spec"]["template"]["spec"]) == ["policy.yaml",
                                                                     "revocations.yaml"]
    for obj in (live, hook_cm, job, r.deployment, r.one("ConfigMap", f"{RELEASE}-settings")):
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_an_empty_list_turns_the_list_on(render, yaml):
    r = render({"revocations": []})
    data = r.one("ConfigMap", f"{RELEASE}-policy")["data"]
    assert yaml.safe_load(data["revocations.yaml"]) == {"revocations": []}
    assert settings(r)["AUTHZ_REVOCATIONS_PATH"] == PATH


def test_list_changes_are_hot_reloaded_and_turning_it_on_rolls_the_pods(render):
    none, one, two = render({}), render({"revocations": LIST[:1]}), render({"revocations": LIST})
    assert checksum(one) == checksum(two), "a new entry must not restart the pods"
    assert checksum(none) != checksum(one), "the variable appears: the pods roll once"


def test_the_service_reads_what_the_chart_renders(render, tmp_path):
    result = run_container(render({"policy": POLICY, "revocations": LIST}), tmp_path, "Job", HOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid revocation list: 4 entries: 1 jti, 1 originJti, 2 sub" in result.stdout


def test_the_hook_fails_a_list_the_schema_lets_through(chart, render, tmp_path):
    """Kind-specific rules are the service's: the schema passes them, the hook refuses."""
    values = {"policy": POLICY, "revocations": [
        {"jti": "a", "issuedBefore": "2026-11-26T10:00:00Z"},
        {"sub": "b", "issuedBefore": "yesterday"},
    ]}
    chart.validate_schema(values)
    result = run_container(render(values), tmp_path, "Job", HOOK)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "revocations[0].issuedBefore: only with sub" in result.stderr
    assert "revocations[1].issuedBefore" in result.stderr


def test_helm_test_runs_the_policy_tests_with_the_list(render, tmp_path):
    cases = [{"request": {"path": "/orders/1"},
              "token": {"kind": "revoked", "claims": {"scope": "orders/read"}},
              "expect": {"status": 401, "reason": "revoked"}},
             {"request": {"path": "/orders/1"},
              "token": {"claims": {"scope": "orders/read",
                                   "origin_jti": "0b7e1f2a-0000-4000-8000-000000000002"}},
              "expect": {"status": 401, "reason": "revoked"}}]
    r = render({"policy": POLICY, "revocations": LIST, "helmTest": {"policyTests": cases}})
    result = run_container(r, tmp_path, "Pod", f"{RELEASE}-test-policy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith("2 passed, 0 failed\n"), result.stdout


@pytest.mark.parametrize("bad", [
    {"revocations": [{"jti": "a", "reasn": "typo"}]},
    {"revocations": [{"reason": "names nothing"}]},
    {"revocations": [{"jti": "a", "originJti": "b"}]},
    {"revocations": [{"sub": "a"}]},
    {"revocations": [{"jti": ""}]},
    {"revocations": {"jti": "a"}},
    {"prometheusRule": {"severity": {"revocationReloadRefused": "loud"}}},
])
def test_bad_revocation_values_are_refused(helm, render, bad):
    with pytest.raises(helm.HelmError):
        render(bad)


def test_an_existing_policy_configmap_cannot_carry_the_chart_list(helm, render):
    with pytest.raises(helm.HelmError, match="existingPolicyConfigMap"):
        render({"existingPolicyConfigMap": "my-policy", "revocations": LIST})


def test_a_refused_list_raises_an_alert(render):
    r = render({"prometheusRule": {"enabled": True}})
    [group] = r.one("PrometheusRule")["spec"]["groups"]
    rule = {x["alert"]: x for x in group["rules"]}["CognitoExtAuthzRevocationReloadRefused"]
    assert "cognito_ext_authz_revocation_reloads_total" in rule["expr"]
    assert 'result="failure"' in rule["expr"]
    assert rule["labels"]["severity"] == "critical"
