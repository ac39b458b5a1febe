"""Offline schema validation of the deployment files, and of the metrics wiring.

- Both kustomize overlays are rendered with ``kubectl kustomize`` (built-in
  kustomize, offline) and every document of a built-in kind is validated, in
  strict mode (unknown fields are errors, as ``kubectl apply`` reports them), against
  the Kubernetes JSON schemas shipped in the kubernetes-validate package: for the
  oldest Kubernetes the README supports and for the newest the package knows.
- Custom resources (Strimzi, CloudNativePG, Prometheus Operator) have no schema in
  that package and their CRDs are not vendored: a small hand-written check of
  the fields each one needs stands in for the real CRD schema.
- docker-compose.yml is validated against the compose-spec JSON schema vendored
  in check-jsonschema.
- The Grafana dashboards, their provisioning, the Prometheus config and the
  Kubernetes scrape wiring (pod annotations, PodMonitor, network policy,
  dashboards ConfigMap) are held to the metrics the services expose.
- Each validator is also fed a deliberately broken document and must reject it,
  so a validator that accepts everything cannot pass.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy/k8s"
OVERLAYS = ("dev", "production")
PROMETHEUS_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
GRAFANA = ROOT / "deploy/grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCES = GRAFANA / "provisioning/datasources"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning/dashboards"

SERVICES = ("intake", "search", "transfer", "referral", "followup", "summary")
CONSOLE = "console"  # the station console: scraped like the services
CONTAINER_PORT = 8000

# Oldest Kubernetes release deploy/k8s/README.md supports, and the newest one
# whose schemas the pinned kubernetes-validate ships.
K8S_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl not installed: cannot render the kustomize overlays (kubectl kustomize)",
)

# ------------------------------------------------------------- the metrics ---

# Every series the services expose at GET /metrics, with its labels.
_HISTOGRAM = {"service", "method", "route"}
METRICS: dict[str, set[str]] = {
    "rescue_http_requests_total": {"service", "method", "route", "status"},
    "rescue_http_request_duration_seconds_bucket": _HISTOGRAM | {"le"},
    "rescue_http_request_duration_seconds_sum": _HISTOGRAM,
    "rescue_http_request_duration_seconds_count": _HISTOGRAM,
    "rescue_outbox_backlog": {"service"},
    "rescue_outbox_oldest_age_seconds": {"service"},
    "rescue_consumer_lag": {"service", "topic", "partition"},
    "rescue_dead_letters": {"service"},
    "rescue_periodic_runs_total": {"service", "sweep"},
    "rescue_periodic_failures_total": {"service", "sweep"},
    "rescue_overdue": {"service", "station", "kind"},
    "rescue_persons_in_station": {"service", "station"},
    "rescue_admissions_total": {"service", "station"},
    "rescue_open_search_cases": {"service", "station"},
    "rescue_returns": {"service", "station", "status"},
    "rescue_referrals_open": {"service", "station", "partner_type"},
    "rescue_stabilisations_active": {"service", "station"},
}

# What each dashboard must show (by the metrics its panels query).
DASHBOARD_COVERAGE = {
    "Network health": {
        "rescue_http_requests_total",
        "rescue_http_request_duration_seconds_bucket",
        "rescue_outbox_backlog",
        "rescue_outbox_oldest_age_seconds",
        "rescue_consumer_lag",
        "rescue_dead_letters",
        "rescue_periodic_failures_total",
    },
    "The work": {
        "rescue_admissions_total",
        "rescue_persons_in_station",
        "rescue_open_search_cases",
        "rescue_overdue",
        "rescue_returns",
        "rescue_referrals_open",
        "rescue_stabilisations_active",
    },
}

PROMQL_FUNCTIONS = {
    # aggregation operators
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "group",
    # functions
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max",
    "clamp_min", "delta", "deriv", "exp", "floor", "histogram_quantile", "idelta",
    "increase", "irate", "label_join", "label_replace", "last_over_time", "ln",
    "max_over_time", "min_over_time", "avg_over_time", "sum_over_time",
    "count_over_time", "quantile_over_time", "rate", "resets", "round", "scalar",
    "sort", "sort_desc", "sqrt", "time", "timestamp", "vector",
}  # fmt: skip
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
PROMQL_KEYWORDS |= {"unless", "bool", "offset"}
_GROUPING = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"


def promql_names(expr: str) -> tuple[set[str], set[str], set[str]]:
    """(metric names, label names, function names) an expression uses.

    Not a parser: enough for the dashboards' expressions. Strings, label matchers,
    range selectors, grouping clauses, Grafana variables and numbers are taken out;
    what remains is functions (followed by "("), keywords and metric names.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    labels: set[str] = set()
    for body in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", body))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    for body in re.findall(_GROUPING, text):
        labels |= {label.strip() for label in body.split(",") if label.strip()}
    text = re.sub(_GROUPING, " ", text)
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)
    text = re.sub(r"(?<![\w.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", " ", text)
    metrics: set[str] = set()
    functions: set[str] = set()
    for name, call in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        if call:
            functions.add(name)
        elif name not in PROMQL_KEYWORDS:
            metrics.add(name)
    return metrics, labels, functions


def promql_problems(expr: str) -> list[str]:
    metrics, labels, functions = promql_names(expr)
    problems = [f"unknown metric {name!r}" for name in sorted(metrics - METRICS.keys())]
    problems += [f"unknown function {name!r}" for name in sorted(functions - PROMQL_FUNCTIONS)]
    if not metrics:
        problems.append("queries no metric")
    known_labels = set().union(*(METRICS.get(name, set()) for name in metrics))
    problems += [
        f"label {label!r} is on none of {sorted(metrics)}"
        for label in sorted(labels - known_labels)
    ]
    return problems


# ------------------------------------------------------------------ helpers ---


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [KUBECTL, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(docs, kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS.glob("*.json"))
    }


def all_panels(panels: list[dict[str, Any]]):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))  # collapsed rows


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if not {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]:
            return False
    return True


# ------------------------------------------- Kubernetes: schema validation ---


def is_builtin(doc: dict[str, Any]) -> bool:
    """Core (v1), the unsuffixed API groups and *.k8s.io: Kubernetes' own kinds."""
    group = doc["apiVersion"].rpartition("/")[0]
    return group in {"", "apps", "batch", "autoscaling", "policy"} or group.endswith(".k8s.io")


# Custom resources: kubernetes-validate ships no schema for them and their CRDs
# are not vendored, so each kind gets a small hand-written JSON Schema of the
# fields the operator needs (types, required keys, a few enums). Not the CRD:
# a field the CRD accepts but this check does not list is simply not checked.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUANTITY = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"}
DURATION = {"type": "string", "pattern": r"^([0-9]+(ms|s|m|h|d|w|y))+$"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
COMPUTE = {
    "type": "object",
    "properties": {
        "requests": {"type": "object", "additionalProperties": QUANTITY},
        "limits": {"type": "object", "additionalProperties": QUANTITY},
    },
}
LABEL_SELECTOR = {
    "type": "object",
    "minProperties": 1,
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def _custom(
    api_version: str, kind: str, spec: dict[str, Any], labels: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": {
                "type": "object",
                "required": ["name", "namespace"] + (["labels"] if labels else []),
                "properties": {
                    "name": {"type": "string", "pattern": DNS_SUBDOMAIN, "maxLength": 253},
                    "namespace": {"type": "string", "pattern": DNS_LABEL, "maxLength": 63},
                    "labels": {**STRING_MAP, "required": list(labels)},
                    "annotations": STRING_MAP,
                },
            },
            "spec": {"type": "object", **spec},
        },
    }


STRIMZI = "kafka.strimzi.io/v1beta2"
CNPG = "postgresql.cnpg.io/v1"
BARMAN_CLOUD = "barmancloud.cnpg.io/v1"  # the Barman Cloud plugin's ObjectStore
# A CNPG-I plugin in a Cluster (spec.plugins, externalClusters[].plugin)
CNPG_PLUGIN = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "isWALArchiver": {"type": "boolean"},
        "parameters": STRING_MAP,
    },
}
SECRET_KEY_REF = {
    "type": "object",
    "required": ["name", "key"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "key": {"type": "string"}},
}
CLUSTER_LABEL = ("strimzi.io/cluster",)
CUSTOM_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    (STRIMZI, "Kafka"): _custom(
        STRIMZI,
        "Kafka",
        {
            "required": ["kafka"],
            "properties": {
                "kafka": {
                    "type": "object",
                    "required": ["listeners"],
                    "properties": {
                        "version": {"type": "string"},
                        "metadataVersion": {"type": "string"},
                        "config": {"type": "object"},
                        "listeners": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["name", "port", "type", "tls"],
                                "properties": {
                                    "name": {"type": "string", "pattern": r"^[a-z0-9]{1,11}$"},
                                    "port": {"type": "integer", "minimum": 9092},
                                    "type": {
                                        "enum": [
                                            "internal",
                                            "route",
                                            "loadbalancer",
                                            "nodeport",
                                            "ingress",
                                            "cluster-ip",
                                        ]
                                    },
                                    "tls": {"type": "boolean"},
                                    "networkPolicyPeers": {"type": "array"},
                                    "authentication": {
                                        "type": "object",
                                        "required": ["type"],
                                        "properties": {
                                            "type": {
                                                "enum": ["tls", "scram-sha-512", "oauth", "custom"]
                                            }
                                        },
                                    },
                                    "configuration": {"type": "object"},
                                },
                            },
                        },
                        "authorization": {
                            "type": "object",
                            "required": ["type"],
                            "properties": {
                                "type": {"enum": ["simple", "opa", "keycloak", "custom"]},
                                "superUsers": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    },
                },
                "entityOperator": {"type": "object"},
            },
        },
    ),
    (STRIMZI, "KafkaNodePool"): _custom(
        STRIMZI,
        "KafkaNodePool",
        {
            "required": ["replicas", "roles", "storage"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "roles": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"enum": ["controller", "broker"]},
                },
                "storage": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {
                        "type": {"enum": ["ephemeral", "persistent-claim", "jbod"]},
                        "volumes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "type"],
                                "properties": {
                                    "id": {"type": "integer", "minimum": 0},
                                    "type": {"enum": ["ephemeral", "persistent-claim"]},
                                    "size": QUANTITY,
                                    "deleteClaim": {"type": "boolean"},
                                    "kraftMetadata": {"enum": ["shared"]},
                                },
                            },
                        },
                    },
                },
                "resources": COMPUTE,
            },
        },
        CLUSTER_LABEL,
    ),
    (STRIMZI, "KafkaTopic"): _custom(
        STRIMZI,
        "KafkaTopic",
        {
            "required": ["partitions", "replicas"],
            "properties": {
                "topicName": {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,249}$"},
                "partitions": {"type": "integer", "minimum": 1},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                "config": {"type": "object"},
            },
        },
        CLUSTER_LABEL,
    ),
    (STRIMZI, "KafkaUser"): _custom(
        STRIMZI,
        "KafkaUser",
        {
            "required": ["authentication", "authorization"],
            "properties": {
                "authentication": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"enum": ["tls", "tls-external", "scram-sha-512"]}},
                },
                "authorization": {
                    "type": "object",
                    "required": ["type", "acls"],
                    "properties": {
                        "type": {"const": "simple"},
                        "acls": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["resource", "operations"],
                                "additionalProperties": False,
                                "properties": {
                                    "resource": {
                                        "type": "object",
                                        "required": ["type"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "type": {
                                                "enum": [
                                                    "topic",
                                                    "group",
                                                    "cluster",
                                                    "transactionalId",
                                                ]
                                            },
                                            "name": {"type": "string", "minLength": 1},
                                            "patternType": {"enum": ["literal", "prefix"]},
                                        },
                                    },
                                    "operations": {
                                        "type": "array",
                                        "minItems": 1,
                                        "uniqueItems": True,
                                        "items": {
                                            "enum": [
                                                "Read",
                                                "Write",
                                                "Create",
                                                "Delete",
                                                "Alter",
                                                "Describe",
                                                "ClusterAction",
                                                "AlterConfigs",
                                                "DescribeConfigs",
                                                "IdempotentWrite",
                                                "All",
                                            ]
                                        },
                                    },
                                    "type": {"enum": ["allow", "deny"]},
                                    "host": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
        CLUSTER_LABEL,
    ),
    (CNPG, "Cluster"): _custom(
        CNPG,
        "Cluster",
        {
            "required": ["instances", "storage"],
            "properties": {
                "instances": {"type": "integer", "minimum": 1},
                "imageName": {"type": "string"},
                "storage": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {"size": QUANTITY},
                },
                "postgresql": {
                    "type": "object",
                    "properties": {"parameters": STRING_MAP},
                },
                "managed": {
                    "type": "object",
                    "properties": {
                        "roles": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "ensure": {"enum": ["present", "absent"]},
                                    "login": {"type": "boolean"},
                                    "connectionLimit": {"type": "integer"},
                                    "passwordSecret": {
                                        "type": "object",
                                        "required": ["name"],
                                    },
                                },
                            },
                        },
                    },
                },
                "resources": COMPUTE,
                "plugins": {"type": "array", "items": CNPG_PLUGIN},
                "bootstrap": {
                    "type": "object",
                    "maxProperties": 1,
                    "additionalProperties": False,
                    "properties": {
                        "initdb": {"type": "object"},
                        "recovery": {
                            "type": "object",
                            "required": ["source"],
                            "additionalProperties": False,
                            "properties": {
                                "source": {"type": "string"},
                                "database": {"type": "string"},
                                "owner": {"type": "string"},
                                "recoveryTarget": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        key: {"type": "string"}
                                        for key in ("backupID", "targetTime", "targetLSN")
                                        + ("targetName", "targetTLI", "targetXID")
                                    }
                                    | {"targetImmediate": {"type": "boolean"}}
                                    | {"exclusive": {"type": "boolean"}},
                                },
                            },
                        },
                        "pg_basebackup": {"type": "object"},
                    },
                },
                "externalClusters": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "plugin": CNPG_PLUGIN},
                    },
                },
            },
        },
    ),
    (CNPG, "ScheduledBackup"): _custom(
        CNPG,
        "ScheduledBackup",
        {
            "required": ["cluster", "schedule"],
            "additionalProperties": False,
            "properties": {
                "cluster": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                },
                # robfig/cron with seconds: six fields (or a @descriptor)
                "schedule": {"type": "string", "pattern": r"^(@\w+|\S+( \S+){5})$"},
                "immediate": {"type": "boolean"},
                "suspend": {"type": "boolean"},
                "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
                "target": {"enum": ["primary", "prefer-standby"]},
                "method": {"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
                "online": {"type": "boolean"},
                "onlineConfiguration": {"type": "object"},
                "pluginConfiguration": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {"name": {"type": "string"}, "parameters": STRING_MAP},
                },
            },
        },
    ),
    (BARMAN_CLOUD, "ObjectStore"): _custom(
        BARMAN_CLOUD,
        "ObjectStore",
        {
            "required": ["configuration"],
            "additionalProperties": False,
            "properties": {
                "configuration": {
                    "type": "object",
                    "required": ["destinationPath"],
                    "properties": {
                        "destinationPath": {"type": "string", "pattern": "^(s3|gs|https?)://"},
                        "endpointURL": {"type": "string", "pattern": "^https?://"},
                        "endpointCA": SECRET_KEY_REF,
                        "serverName": {"type": "string"},
                        "s3Credentials": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                key: SECRET_KEY_REF
                                for key in ("accessKeyId", "secretAccessKey", "region")
                                + ("sessionToken",)
                            }
                            | {"inheritFromIAMRole": {"type": "boolean"}},
                        },
                        "azureCredentials": {"type": "object"},
                        "googleCredentials": {"type": "object"},
                        "wal": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "compression": {
                                    "enum": ["bzip2", "gzip", "lz4", "snappy", "xz", "zstd"]
                                },
                                "encryption": {"enum": ["AES256", "aws:kms"]},
                                "maxParallel": {"type": "integer", "minimum": 1},
                                "archiveAdditionalCommandArgs": {"type": "array"},
                                "restoreAdditionalCommandArgs": {"type": "array"},
                            },
                        },
                        "data": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "compression": {"enum": ["bzip2", "gzip", "lz4", "snappy"]},
                                "encryption": {"enum": ["AES256", "aws:kms"]},
                                "immediateCheckpoint": {"type": "boolean"},
                                "jobs": {"type": "integer", "minimum": 1},
                                "additionalCommandArgs": {"type": "array"},
                                "restoreAdditionalCommandArgs": {"type": "array"},
                            },
                        },
                        "tags": STRING_MAP,
                        "historyTags": STRING_MAP,
                    },
                },
                "retentionPolicy": {"type": "string", "pattern": "^[1-9][0-9]*[dwm]$"},
                "instanceSidecarConfiguration": {"type": "object"},
            },
        },
    ),
    (CNPG, "Database"): _custom(
        CNPG,
        "Database",
        {
            "required": ["name", "owner", "cluster"],
            "properties": {
                "name": {"type": "string"},
                "owner": {"type": "string"},
                "cluster": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                },
                "ensure": {"enum": ["present", "absent"]},
                "databaseReclaimPolicy": {"enum": ["retain", "delete"]},
                "extensions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"ensure": {"enum": ["present", "absent"]}},
                    },
                },
            },
        },
    ),
    ("monitoring.coreos.com/v1", "PodMonitor"): _custom(
        "monitoring.coreos.com/v1",
        "PodMonitor",
        {
            "required": ["selector", "podMetricsEndpoints"],
            "properties": {
                "selector": LABEL_SELECTOR,
                "namespaceSelector": {"type": "object"},
                "jobLabel": {"type": "string"},
                "podMetricsEndpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "anyOf": [{"required": ["port"]}, {"required": ["portNumber"]}],
                        "properties": {
                            "port": {"type": "string", "pattern": r"^[a-z0-9-]{1,15}$"},
                            "portNumber": {"type": "integer", "minimum": 1, "maximum": 65535},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "honorLabels": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    ),
    # the alerts (deploy/prometheus/rules/, generated): the shape of a Prometheus rule
    # group; tests/unit/test_alert_rules.py checks the rules themselves with promtool
    ("monitoring.coreos.com/v1", "PrometheusRule"): _custom(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        {
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": DURATION,
                            "rules": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                                    "additionalProperties": False,
                                    "properties": {
                                        "alert": {"type": "string", "pattern": r"^[A-Za-z_]\w*$"},
                                        "record": {"type": "string"},
                                        "expr": {"type": "string", "minLength": 1},
                                        "for": DURATION,
                                        "keep_firing_for": DURATION,
                                        "labels": STRING_MAP,
                                        "annotations": STRING_MAP,
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    ),
}


def manifest_errors(doc: dict[str, Any]) -> list[str]:
    """Why a rendered manifest would be refused: [] when it is valid."""
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return ["apiVersion and kind must be strings"]
    if is_builtin(doc):
        errors = []
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(map(str, error.path)) or "(root)"
                errors.append(f"Kubernetes {error.version}: {where}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                errors.append(error.message)
        return errors
    schema = CUSTOM_SCHEMAS.get((api_version, kind))
    if schema is None:
        return [f"custom resource {api_version} {kind} has no check in CUSTOM_SCHEMAS"]
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(map(str, error.path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(doc)
    ]


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_overlay_validates(overlay):
    docs = render(overlay)
    kinds = {doc["kind"] for doc in docs}
    # what the network needs; a kind missing here means a resource fell out
    expected = {"Namespace", "Deployment", "Service", "ConfigMap", "NetworkPolicy"}
    expected |= {"HorizontalPodAutoscaler", "PodDisruptionBudget", "PodMonitor", "Ingress"}
    expected |= {"PrometheusRule"}
    expected |= {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "Database"}
    assert expected <= kinds, sorted(expected - kinds)
    problems = {
        f"{doc['kind']}/{doc['metadata']['name']}": errors
        for doc in docs
        if (errors := manifest_errors(doc))
    }
    assert not problems, json.dumps(problems, indent=2, ensure_ascii=False)


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "intake", "namespace": "rescue"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "intake"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "intake"}},
                "spec": {"containers": [{"name": "intake", "image": "rescue-intake"}]},
            },
        },
    }


def test_a_valid_deployment_passes():
    assert manifest_errors(_deployment()) == []


@pytest.mark.parametrize(
    ("breakage", "mentions"),
    [
        (lambda d: d["spec"].update(replicas="two"), "replicas"),
        (lambda d: d["spec"].update(replica=2), "replica"),  # unknown field (strict)
        (lambda d: d["spec"].pop("selector"), "selector"),
        (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(ports=[{}]), "port"),
    ],
    ids=["replicas-not-a-number", "unknown-field", "no-selector", "port-without-number"],
)
def test_a_broken_deployment_is_rejected(breakage, mentions):
    broken = _deployment()
    breakage(broken)
    errors = manifest_errors(broken)
    assert len(errors) == len(K8S_VERSIONS), errors  # refused by every version
    assert all(mentions in error for error in errors), errors


@needs_kubectl
def test_broken_custom_resources_are_rejected():
    docs = render("dev")
    topic = copy.deepcopy(next(iter(of_kind(docs, "KafkaTopic").values())))
    assert manifest_errors(topic) == []
    topic["spec"]["partitions"] = "6"
    assert any("partitions" in e for e in manifest_errors(topic))

    topic = copy.deepcopy(next(iter(of_kind(docs, "KafkaTopic").values())))
    topic["metadata"]["name"] = "rescue.partner.womens_federation"  # "_": not a k8s name
    assert any("metadata.name" in e for e in manifest_errors(topic))

    monitor = copy.deepcopy(next(iter(of_kind(docs, "PodMonitor").values())))
    monitor["spec"]["podMetricsEndpoints"] = [{"path": "/metrics"}]  # no port
    assert manifest_errors(monitor)

    rules = copy.deepcopy(next(iter(of_kind(docs, "PrometheusRule").values())))
    assert manifest_errors(rules) == []
    rules["spec"]["groups"][0]["rules"][0]["for"] = 120  # a number, not a duration
    assert any("for" in e for e in manifest_errors(rules))

    unknown = {"apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "x"}}
    assert "has no check" in manifest_errors(unknown)[0]


# ----------------------------------------------------- compose: the spec ---


@cache
def compose_validator() -> jsonschema.protocols.Validator:
    # vendored by check-jsonschema (a dev dependency): no network needed
    ref = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(ref.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def compose_errors(data: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, error.path)) or '(root)'}: {error.message}"
        for error in compose_validator().iter_errors(data)
    ]


def test_compose_file_matches_the_compose_spec():
    # PyYAML resolves the anchors and <<: merges as compose does.
    assert compose_errors(load_yaml(COMPOSE)) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["services"]["prometheus"].update(imagee="prom/prometheus"),
        lambda c: c["services"]["grafana"].update(ports={"3000": 3000}),
        lambda c: c["services"]["kafka"]["healthcheck"].update(test={"cmd": "true"}),
        lambda c: c.update(servicess={}),
    ],
    ids=["unknown-key", "ports-not-a-list", "healthcheck-test-mapping", "unknown-top-level"],
)
def test_a_broken_compose_file_is_rejected(breakage):
    broken = copy.deepcopy(load_yaml(COMPOSE))
    breakage(broken)
    assert compose_errors(broken)


# ----------------------------------------------------------- prometheus ---


def test_prometheus_config_scrapes_every_service():
    config = load_yaml(PROMETHEUS_CONFIG)
    interval = config["global"]["scrape_interval"]
    assert interval == "15s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert len(jobs) == len(config["scrape_configs"]), "duplicate job_name"
    for svc in (*SERVICES, CONSOLE):
        job = jobs[svc]
        assert job.get("metrics_path", "/metrics") == "/metrics", svc
        assert job.get("scrape_interval", interval) == "15s", svc
        assert job.get("scheme", "http") == "http", svc
        targets = [t for static in job["static_configs"] for t in static["targets"]]
        assert targets == [f"{svc}:{CONTAINER_PORT}"], (svc, targets)
        # the periodic series carry their own `job` label: keep it, not exported_job
        assert not job.get("honor_labels"), svc  # target labels win; no series says job
        for static in job["static_configs"]:
            assert "service" not in static.get("labels", {}), "services set `service` themselves"

    compose = load_yaml(COMPOSE)["services"]
    prometheus = compose["prometheus"]
    assert (
        f"./{PROMETHEUS_CONFIG.relative_to(ROOT)}:/etc/prometheus/prometheus.yml:ro"
        in (prometheus["volumes"])
    )
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert {*SERVICES, CONSOLE} <= compose.keys()


# -------------------------------------------------------------- grafana ---


def datasource_uid() -> str:
    """The Prometheus datasource's uid (Tempo and Loki are provisioned beside it)."""
    sources = [
        source
        for path in sorted(DATASOURCES.glob("*.y*ml"))
        for source in load_yaml(path)["datasources"]
    ]
    (source,) = [s for s in sources if s["type"] == "prometheus"]
    assert source["url"] == "http://prometheus:9090"
    return source["uid"]


def test_grafana_provisioning_matches_compose():
    compose = load_yaml(COMPOSE)["services"]
    grafana = compose["grafana"]
    assert "prometheus" in compose
    mounts = {}
    for volume in grafana["volumes"]:
        source, target, *_ = volume.split(":")
        mounts[target] = source
    assert (
        mounts["/etc/grafana/provisioning/datasources"]
        == "./deploy/grafana/provisioning/datasources"
    )
    assert (
        mounts["/etc/grafana/provisioning/dashboards"] == "./deploy/grafana/provisioning/dashboards"
    )
    assert datasource_uid()

    (path,) = sorted(DASHBOARD_PROVIDERS.glob("*.y*ml"))
    (provider,) = load_yaml(path)["providers"]
    assert provider["type"] == "file"
    dashboards_dir = provider["options"]["path"]
    assert mounts[dashboards_dir] == "./" + str(DASHBOARDS.relative_to(ROOT))

    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_dir + "/")
    assert (DASHBOARDS / home.removeprefix(dashboards_dir + "/")).is_file()


def test_dashboards():
    uid = datasource_uid()
    found = dashboards()
    assert {d["title"] for d in found.values()} == set(DASHBOARD_COVERAGE)
    assert len({d["uid"] for d in found.values()}) == len(found)
    for name, dashboard in found.items():
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard["uid"]), name
        assert dashboard["schemaVersion"] >= 39, name
        assert dashboard.get("id") is None, f"{name}: provisioned dashboards carry no id"
        panels = list(all_panels(dashboard["panels"]))
        assert len({p["id"] for p in panels}) == len(panels), f"{name}: duplicate panel ids"
        titles = [p["title"] for p in panels]
        assert len(set(titles)) == len(titles), f"{name}: duplicate panel titles"
        used: set[str] = set()
        problems: dict[str, list[str]] = {}
        for panel in panels:
            assert {"x", "y", "w", "h"} <= panel["gridPos"].keys(), (name, panel["title"])
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, (name, panel["title"])
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
            assert panel["targets"], f"{name}: {panel['title']} queries nothing"
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(set(ref_ids)) == len(ref_ids), (name, panel["title"])
            for target in panel["targets"]:
                assert target.get("datasource", panel["datasource"])["uid"] == uid
                if found_problems := promql_problems(target["expr"]):
                    problems[f"{panel['title']}: {target['expr']}"] = found_problems
                used |= promql_names(target["expr"])[0]
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable["type"] != "query":
                continue
            assert variable["datasource"]["uid"] == uid, variable["name"]
            query = variable["query"]
            query = query["query"] if isinstance(query, dict) else query
            for text in (query, variable.get("definition", query)):
                match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", text)
                assert match, f"{name}: variable {variable['name']}: {text}"
                metric, label = match.groups()
                assert label in METRICS.get(metric, set()), f"{name}: {text}"
        assert not problems, f"{name}: {json.dumps(problems, indent=2, ensure_ascii=False)}"
        missing = DASHBOARD_COVERAGE[dashboard["title"]] - used
        assert not missing, f"{name} shows nothing of {sorted(missing)}"


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(http_requests_total[5m]))",  # not one of ours
        'sum by (station) (rescue_outbox_backlog{service="intake"})',  # no station label
        "histogram_quantil(0.95, rescue_http_request_duration_seconds_bucket)",  # typo
        'max by (kind) (rescue_overdue{statoin=~"$station"})',  # label typo
        "vector(1)",  # no metric at all
    ],
)
def test_unknown_metric_names_and_labels_are_caught(expr):
    assert promql_problems(expr)


def test_known_expressions_pass():
    for expr in (
        "histogram_quantile(0.95, sum by (service, le) "
        '(rate(rescue_http_request_duration_seconds_bucket{service=~"$service"}[$__rate_interval])))',
        'max by (station, kind) (rescue_overdue{station=~"$station", kind="revisit"}) > 0',
        "sum by (service, sweep) (increase(rescue_periodic_failures_total[1h]))",
        'sum(rescue_returns{status=~"pending|planned|in_transit"}) / 1e3',
    ):
        assert promql_problems(expr) == [], expr


# ------------------------------------------ Kubernetes: metrics wiring ---


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_are_scraped_in_kubernetes(overlay):
    docs = render(overlay)
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == {*SERVICES, CONSOLE}
    (monitor,) = of_kind(docs, "PodMonitor").values()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert "namespaceSelector" not in monitor["spec"], "scrape the PodMonitor's own namespace"
    endpoints = monitor["spec"]["podMetricsEndpoints"]
    assert [(e["port"], e["path"]) for e in endpoints] == [("http", "/metrics")]
    assert not endpoints[0].get("honorLabels")  # no series of ours carries `job`

    for svc, deployment in deployments.items():
        template = deployment["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert selector_matches(monitor["spec"]["selector"], labels), svc
        (app,) = [c for c in template["spec"]["containers"] if c["name"] == svc]
        ports = {p["name"]: p["containerPort"] for p in app["ports"]}
        assert ports.get(endpoints[0]["port"]) == CONTAINER_PORT, (svc, ports)
        annotations = template["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", svc
        assert annotations.get("prometheus.io/port") == str(CONTAINER_PORT), svc
        assert annotations.get("prometheus.io/path") == "/metrics", svc


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("app", ["intake", CONSOLE])
def test_monitoring_may_reach_the_metrics_port(overlay, app):
    docs = render(overlay)
    pod_labels = of_kind(docs, "Deployment")[app]["spec"]["template"]["metadata"]["labels"]
    allowed = False
    for policy in of_kind(docs, "NetworkPolicy").values():
        if not selector_matches(policy["spec"]["podSelector"], pod_labels):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            from_monitoring = any(
                peer.get("namespaceSelector", {}).get("matchLabels")
                == {"kubernetes.io/metadata.name": "monitoring"}
                and "podSelector" not in peer
                for peer in rule.get("from", [])
            )
            allowed |= from_monitoring and bool(ports & {CONTAINER_PORT, "http"})
    assert allowed, "no network policy lets the monitoring namespace reach port 8000"


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_dashboards_configmap_for_the_grafana_sidecar(overlay):
    docs = render(overlay)
    sidecar = [
        doc
        for doc in of_kind(docs, "ConfigMap").values()
        if doc["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    (config_map,) = sidecar
    # a fixed name: a hash suffix would leave old copies for the sidecar to load too
    assert config_map["metadata"]["name"] == "rescue-grafana-dashboards"
    assert {key: json.loads(value) for key, value in config_map["data"].items()} == dashboards()
    size = sum(len(value.encode()) for value in config_map["data"].values())
    # kubectl apply (client-side) keeps a copy in an annotation of at most 256 KiB
    assert size < 200_000, size
