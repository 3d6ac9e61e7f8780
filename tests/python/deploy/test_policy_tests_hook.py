"""`helm test` runs the policy's own test cases (helmTest.policyTests) with the release's image.

The seed serverless.yml is imported with `--tests`; its policy and cases go into the values;
the rendered test Pod's command is run with the binary against the rendered ConfigMaps,
mounted as the kubelet does. A policy that drops the route's scope fails it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .common import KUBE_VERSION, REPO, run_container, service_binary

SEED = REPO / "tests" / "fixtures" / "import" / "serverless.yml"
POD = "cognito-ext-authz-test-policy"


@pytest.fixture(scope="module")
def imported(yaml, tmp_path_factory):
    """(policy, tests) as values: the seed imported with --tests."""
    out = tmp_path_factory.mktemp("import")
    result = subprocess.run(
        [str(service_binary()), "import", str(SEED), "--tests", str(out / "tests.yaml")],
        capture_output=True, text=True, timeout=60, check=True)
    policy = yaml.safe_load(result.stdout)
    # Named authorizers, as `import` writes them, go in as is: nothing of the chart's
    # example (its `userPools`) is merged in.
    assert "authorizers" in policy and "userPools" not in policy, result.stdout
    return policy, yaml.safe_load((out / "tests.yaml").read_text())


def run_pod(r, tmp_path: Path) -> subprocess.CompletedProcess:
    """The test Pod's container command against the ConfigMaps it mounts."""
    return run_container(r, tmp_path, "Pod", POD)


def test_no_policy_test_pod_without_cases(render):
    r = render({})
    assert [p["metadata"]["name"] for p in r.of_kind("Pod")] == ["cognito-ext-authz-test-ready"]


def test_the_hook_runs_the_imported_cases_and_passes(render, imported, tmp_path,
                                                      kubernetes_validate):
    policy, tests = imported
    r = render({"policy": policy, "helmTest": {"policyTests": tests["tests"]}})
    pod = r.one("Pod", POD)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert "hook-failed" not in pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    [container] = pod["spec"]["containers"]
    assert container["image"] == r.deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert container["args"][0] == "test"
    assert container["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["restartPolicy"] == "Never"
    for obj in (pod, r.one("ConfigMap", POD)):
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)

    result = run_pod(r, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith(f"{len(tests['tests'])} passed, 0 failed\n"), result.stdout


def test_the_hook_fails_when_a_scope_is_dropped(render, imported, tmp_path):
    policy, tests = imported
    weakened = {**policy, "routes": [{k: v for k, v in route.items() if k != "scopes"}
                                     for route in policy["routes"]]}
    result = run_pod(render({"policy": weakened, "helmTest": {"policyTests": tests["tests"]}}),
                     tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  POST /my_path: token without the route's scopes, 401" in result.stdout
    assert "status: expected 401, got 200 (authorized)" in result.stdout


def test_the_hook_reads_an_existing_policy_configmap(render, imported):
    _, tests = imported
    r = render({"existingPolicyConfigMap": "my-policy",
                "helmTest": {"policyTests": tests["tests"]}})
    volumes = {v["name"]: v["configMap"]["name"] for v in r.one("Pod", POD)["spec"]["volumes"]}
    assert volumes["policy"] == "my-policy"


def test_the_values_schema_refuses_a_case_without_expect(chart, render):
    with pytest.raises(Exception, match="expect"):
        render({"helmTest": {"policyTests": [{"request": {"path": "/"}}]}})
