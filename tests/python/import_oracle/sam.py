"""The SAM oracle: what `aws-sam-translator` (AWS's own SAM-to-CloudFormation translator)
makes of a template, which is what API Gateway receives.

`translate` runs `samtranslator.translator.transform.transform` offline, as `sam deploy`
would after `sam package`: local `CodeUri`s rewritten to `s3://` locations, a managed
policy loader that knows no policies (no function here uses one), a region set. The
template is read with CloudFormation's short-form tags (`!Ref`, `!GetAtt`, `!Sub`, ...).
A missing translator is a missing tool (support.tools): the test fails.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from support import tools


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


class _CfnLoader(yaml.SafeLoader):
    pass


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


_CfnLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path) -> dict[str, Any]:
    """A CloudFormation/SAM template, JSON or YAML with short-form tags."""
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def is_sam(template: dict[str, Any]) -> bool:
    transform = template.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    return "AWS::Serverless-2016-10-31" in names


def _packaged(template: dict[str, Any]) -> dict[str, Any]:
    """`sam package`'s part: code on S3 instead of local folders."""
    out = copy.deepcopy(template)
    for resource in (out.get("Resources") or {}).values():
        if resource.get("Type") not in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            continue
        props = resource.setdefault("Properties", {})
        if "InlineCode" in props or "ImageUri" in props:
            continue
        uri = props.get("CodeUri")
        if not (isinstance(uri, str) and uri.startswith("s3://")) and not isinstance(uri, dict):
            props["CodeUri"] = "s3://example-artifacts/code.zip"
    globals_fn = (out.get("Globals") or {}).get("Function") or {}
    if isinstance(globals_fn.get("CodeUri"), str) and not globals_fn["CodeUri"].startswith("s3://"):
        globals_fn["CodeUri"] = "s3://example-artifacts/code.zip"
    return out


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template SAM deploys for `template`."""
    try:
        from samtranslator.translator.transform import transform
    except ImportError:
        tools.missing("aws-sam-translator", "run scripts/setup.sh (pip install aws-sam-translator into .venv)")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(_packaged(template), {}, _NoManagedPolicies())
