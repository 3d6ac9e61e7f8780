"""A platform team's first day, end to end, with nothing edited by hand.

`import` an API Gateway definition (with `--tests`), hand its output to the chart as it
is (`--set-file policy=policy.yaml`), render the release, check every object against the
Kubernetes schemas, and run the real binary on the ConfigMap the chart rendered: the
policy gate passes, and the imported cases decide as API Gateway would. The review notes
`import` wrote stay in the ConfigMap for the next reader.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .common import KUBE_VERSION, REPO, RELEASE, run_container, service_binary

FIXTURES = REPO / "tests" / "fixtures" / "import"
# One definition per source format a team starts from.
DEFINITIONS = ["serverless.yml", "sam.yaml", "swagger2-export.yaml", "openapi-two-authorizers.json",
               "cloudformation.yaml", "gateway-responses-cloudformation.yaml"]
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}


def imported(name: str, out: Path) -> tuple[str, Path]:
    """(policy text, tests file) as `import --tests` writes them."""
    tests = out / "tests.yaml"
    result = subprocess.run(
        [str(service_binary()), "import", str(FIXTURES / name), "--tests", str(tests)],
        capture_output=True, text=True, timeout=60)
    # 0: complete (notes to review, if any, are comments in the policy).
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, tests


@pytest.mark.parametrize("name", DEFINITIONS)
def test_import_output_goes_through_the_chart_unchanged_and_decides_as_imported(
        name, render, chart, yaml, kubernetes_validate, tmp_path):
    policy_text, tests_file = imported(name, tmp_path)
    tests = yaml.safe_load(tests_file.read_text())["tests"]
    values = {"policy": policy_text, "helmTest": {"policyTests": tests},
              "service": {"headless": {"enabled": True}}}
    chart.validate_schema(values)
    r = render(values)

    for obj in r.objects:
        if obj["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)

    rendered = r.one("ConfigMap", f"{RELEASE}-policy")["data"]["policy.yaml"]
    assert rendered.rstrip("\n") == policy_text.rstrip("\n"), "the import's text, notes and all"
    if "#" in policy_text:
        assert [l for l in rendered.splitlines() if l.lstrip().startswith("#")] == \
            [l for l in policy_text.splitlines() if l.lstrip().startswith("#")]

    gate = run_container(r, tmp_path / "gate", "Job", f"{RELEASE}-policy-check")
    assert gate.returncode == 0, gate.stdout + gate.stderr
    cases = run_container(r, tmp_path / "cases", "Pod", f"{RELEASE}-test-policy")
    assert cases.returncode == 0, cases.stdout + cases.stderr
    assert cases.stdout.endswith(f"{len(tests)} passed, 0 failed\n"), cases.stdout
