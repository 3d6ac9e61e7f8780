"""`policy` given as text cannot leave the ConfigMap's block scalar.

The chart writes the text into `policy.yaml: |` indented by four spaces. Helm indents after
each `\\n` only, but YAML also breaks lines at a lone CR, NEL (U+0085), LINE SEPARATOR
(U+2028) and PARAGRAPH SEPARATOR (U+2029): a line after one of those starts at column 0,
ends the block scalar, and would add keys to the ConfigMap (another data file, another
name) or whole objects. Such text is refused at render time; CRLF files stay fine.
"""

from __future__ import annotations

import pytest

from .common import RELEASE

LIVE = f"{RELEASE}-policy"

BREAKS = {"CR": "\r", "NEL": "\u0085", "LS": "\u2028", "PS": "\u2029"}
INJECTIONS = {
    "a data key": "  revocations.yaml: 'revocations: []'",
    "a new name": "metadata: {name: another-teams-policy}",
    "a document": "---\napiVersion: v1\nkind: Secret\nmetadata: {name: planted}",
}
POLICY = "userPools: [{id: eu-west-1_Abc123XyZ}]\nroutes: []"


def policy_configmaps(rendered):
    """Every ConfigMap that carries `policy.yaml` (the live one and the hook's copy)."""
    return [o for o in rendered.of_kind("ConfigMap") if "policy.yaml" in (o.get("data") or {})]


@pytest.mark.parametrize("injection", INJECTIONS.values(), ids=INJECTIONS.keys())
@pytest.mark.parametrize("brk", BREAKS.values(), ids=BREAKS.keys())
def test_a_line_break_helm_does_not_indent_is_refused(helm, render, brk, injection):
    text = POLICY + brk + injection + "\n"
    with pytest.raises(helm.HelmError, match="policy"):
        rendered = render({"policy": text})
        # What the attack would have produced had the chart rendered it.
        names = sorted(o["metadata"]["name"] for o in policy_configmaps(rendered))
        keys = [sorted(o["data"]) for o in policy_configmaps(rendered)]
        kinds = sorted({o["kind"] for o in rendered.objects})
        pytest.fail(f"rendered: ConfigMaps {names}, data keys {keys}, kinds {kinds}")


def test_crlf_text_renders_as_the_same_policy(render):
    rendered = render({"policy": POLICY.replace("\n", "\r\n") + "\r\n"})
    configmaps = policy_configmaps(rendered)
    assert len(configmaps) == 2, "the live ConfigMap and the policy check's"
    for cm in configmaps:
        assert cm["data"]["policy.yaml"] == POLICY + "\n"
    assert {cm["metadata"]["name"] for cm in configmaps} >= {LIVE}


def test_text_whose_first_line_is_indented_is_kept_as_written(render):
    """The block scalar's indentation is stated, not guessed from the first line: text
    indented more on its first line than later ones stays inside, as written."""
    text = "  # indented note\n" + POLICY + "\n"
    for cm in policy_configmaps(render({"policy": text})):
        assert cm["data"]["policy.yaml"] == text
        assert sorted(cm["data"]) == ["policy.yaml"]


def test_line_breaks_inside_a_policy_map_are_quoted_by_to_yaml(render, yaml):
    """The map form goes through toYaml, which quotes such characters: it holds."""
    value = "a\rrevocations.yaml: x\u2028metadata: y"
    policy = {"userPools": [{"id": "eu-west-1_Abc123XyZ"}], "routes": [],
              "claimHeaders": {"x-note": value}}
    configmaps = policy_configmaps(render({"policy": policy}))
    assert {cm["metadata"]["name"] for cm in configmaps} >= {LIVE}
    for cm in configmaps:
        assert sorted(cm["data"]) == ["policy.yaml"]
        assert yaml.safe_load(cm["data"]["policy.yaml"]) == policy


HELD = {
    "document markers": POLICY + "\n---\napiVersion: v1\nkind: Secret\n...\n",
    "less indentation": "a:\n  b: 1\nc: 2\n  # note\n",
    "trailing spaces and tabs": POLICY + "   \n\t# tab\t\n  \n",
    "a data key at column 0": POLICY + "\n  revocations.yaml: x\nmetadata: {name: other}\n",
}


@pytest.mark.parametrize("text", HELD.values(), ids=HELD.keys())
def test_text_with_markers_or_odd_indentation_stays_inside_the_block(render, text):
    configmaps = policy_configmaps(render({"policy": text}))
    assert {cm["metadata"]["name"] for cm in configmaps} >= {LIVE}
    for cm in configmaps:
        assert sorted(cm["data"]) == ["policy.yaml"]
        assert cm["data"]["policy.yaml"] == text
