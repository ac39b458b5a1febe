"""Writes deploy/k8s/base/monitoring/prometheus-rules.yaml, the PrometheusRule of the
Prometheus Operator, from deploy/prometheus/rules/*.yml: one source of truth for the
alerts of compose and Kubernetes (make prometheus-rule; tests/unit/test_alert_rules.py
fails when the committed file differs from what this writes)."""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"
TARGET = HERE.parent / "k8s/base/monitoring/prometheus-rules.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/rules/ by `make prometheus-rule`: edit the rules
# there, never this file (tests/unit/test_alert_rules.py compares the two).
# kube-prometheus-stack only selects PrometheusRules labelled with its release
# (release: <name>) unless ruleSelectorNilUsesHelmValues is false: add that label
# in an overlay if the cluster's Prometheus needs it.
"""


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the longer expressions) as literal blocks, as written."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def groups() -> list[dict]:
    """Every group of every rules file, in file-name order."""
    found: list[dict] = []
    for path in sorted(RULES.glob("*.yml")):
        found.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
    return found


def render() -> str:
    resource = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "rescue-alerts",
            "labels": {
                "app.kubernetes.io/name": "rescue-alerts",
                "app.kubernetes.io/component": "monitoring",
            },
        },
        "spec": {"groups": groups()},
    }
    body = yaml.dump(
        resource, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000, indent=2
    )
    return HEADER + body


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
