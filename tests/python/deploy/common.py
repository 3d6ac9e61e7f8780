"""Paths, names and the missing-tool rule shared by the deployment checks."""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

from support import tools

# The checkout this file is in, not the one `support` was installed from (tools.REPO): run
# from another worktree, the tests must read that worktree's chart, docs and manifests.
REPO = Path(__file__).resolve().parents[3]
CHART_DIR = REPO / "deploy" / "helm" / "cognito-ext-authz"
ISTIO_DIR = REPO / "deploy" / "istio"
VALUES_DIR = Path(__file__).resolve().parent / "values"
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"

# The documented install: `helm install cognito-ext-authz ... --namespace cognito-ext-authz`.
RELEASE = "cognito-ext-authz"
NAMESPACE = "cognito-ext-authz"
# The oldest Kubernetes the manifests are validated against.
KUBE_VERSION = "1.30.0"

VALUES_FILES = sorted(p.stem for p in VALUES_DIR.glob("*.yaml"))


def missing_tool(what: str, hint: str = "run scripts/setup.sh") -> NoReturn:
    """The one missing-tool rule (support.tools): fail, or skip loudly when opted out."""
    tools.missing(what, hint)


def require_module(module: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:  # pragma: no cover - depends on the environment
        missing_tool(f"Python package {package!r} ({error})")


def require_command(name: str, package: str) -> Path:
    """An executable from the venv (or PATH), under the missing-tool rule."""
    return tools.require(name, tools.find(name), f"run scripts/setup.sh (installs {package} into .venv)")


def service_binary() -> Path:
    """The cognito-ext-authz binary: $AUTHZ_BIN, else the release build, else the debug build
    (these checks time nothing)."""
    return tools.require("cognito-ext-authz", tools.service_binary(debug_build_too=True),
                         "cargo build --release --bin cognito-ext-authz")


def run_container(r: Any, tmp_path: Path, kind: str, name: str) -> subprocess.CompletedProcess:
    """A rendered Job's or Pod's container command, run with the binary against the
    ConfigMaps it mounts, each item at its path as the kubelet lays them out."""
    obj = r.one(kind, name)
    spec = obj["spec"]["template"]["spec"] if kind == "Job" else obj["spec"]
    [container] = spec["containers"]
    volumes = {v["name"]: v["configMap"] for v in spec["volumes"]}
    args = list(container["args"])
    for mount in container["volumeMounts"]:
        source = volumes[mount["name"]]
        folder = tmp_path / mount["mountPath"].lstrip("/")
        folder.mkdir(parents=True)
        data = r.one("ConfigMap", source["name"])["data"]
        for item in source["items"]:
            (folder / item["path"]).write_text(data[item["key"]])
        args = [str(folder / a[len(mount["mountPath"]) + 1:])
                if a.startswith(mount["mountPath"] + "/") else a for a in args]
    return subprocess.run([str(service_binary()), *args], capture_output=True, text=True,
                          timeout=60)
