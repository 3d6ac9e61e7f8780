"""The chart's `tracing` values: OpenTelemetry off unless an endpoint is given, then the
SDK's own OTEL_* variables in the settings ConfigMap (a change rolls the pods)."""

from __future__ import annotations

import pytest

from .common import RELEASE


def _settings(r) -> dict:
    return r.one("ConfigMap", f"{RELEASE}-settings")["data"]


def _checksum(r) -> str:
    return r.one("Deployment", RELEASE)["spec"]["template"]["metadata"]["annotations"]["checksum/settings"]


def test_tracing_is_off_by_default(render):
    data = _settings(render({}))
    assert not [k for k in data if k.startswith("OTEL_")], data


def test_an_endpoint_turns_tracing_on_with_the_sdk_variables(render):
    before = render({})
    after = render({"tracing": {
        "otlpEndpoint": "http://otel-collector.observability:4317",
        "sampler": "parentbased_traceidratio",
        "samplerArg": "0.25",
        "maxQueueSize": 4096,
    }})
    data = _settings(after)
    assert data["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4317"
    assert data["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert data["OTEL_SERVICE_NAME"] == "cognito-ext-authz"
    assert data["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert data["OTEL_TRACES_SAMPLER_ARG"] == "0.25"
    assert data["OTEL_BSP_MAX_QUEUE_SIZE"] == "4096"
    assert all(isinstance(v, str) for v in data.values())
    assert _checksum(before) != _checksum(after)


def test_a_ratio_sampler_argument_may_be_a_number(render):
    data = _settings(render({"tracing": {"otlpEndpoint": "http://c:4317", "samplerArg": 0.5}}))
    assert data["OTEL_TRACES_SAMPLER_ARG"] == "0.5"
    assert "OTEL_TRACES_SAMPLER_ARG" not in _settings(render({"tracing": {"otlpEndpoint": "http://c:4317"}}))


@pytest.mark.parametrize("bad", [
    {"otlpEndpoint": "otel-collector:4317"},  # no scheme
    {"sampler": "sometimes"},
    {"samplerArg": "2"},
    {"maxQueueSize": 0},
    {"unknown": 1},
])
def test_bad_tracing_values_are_refused(helm, render, bad):
    with pytest.raises(helm.HelmError):
        render({"tracing": bad})
