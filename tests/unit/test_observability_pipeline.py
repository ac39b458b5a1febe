"""Offline checks of the traces-and-logs wiring: services -> OpenTelemetry Collector
-> Tempo (traces) and Loki (logs), and Grafana's datasources linking a latency
exemplar to its trace and a trace to its log lines, in docker-compose.yml and in
Kubernetes (deploy/k8s/base/monitoring/otel-collector). Parsed, not run: no Docker
or cluster is needed; kubectl renders the kustomizations where it is installed."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from opentelemetry.sdk.trace import TracerProvider
from test_manifest_schemas import KUBECTL, manifest_errors, needs_kubectl, render, selector_matches

from rescue_chassis import telemetry

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_COLLECTOR = ROOT / "deploy/compose/otel-collector.yaml"
TEMPO = ROOT / "deploy/compose/tempo.yaml"
LOKI = ROOT / "deploy/compose/loki.yaml"
K8S_COLLECTOR_DIR = ROOT / "deploy/k8s/base/monitoring/otel-collector"
K8S_COLLECTOR = K8S_COLLECTOR_DIR / "otel-collector.yaml"
DATASOURCES = ROOT / "deploy/grafana/provisioning/datasources"
K8S_DATASOURCES = ROOT / "deploy/grafana/datasources-kubernetes.yaml"
DASHBOARDS = ROOT / "deploy/grafana/dashboards"
OVERLAYS = ("dev", "production")
K8S_ENDPOINT = "http://otel-collector.monitoring.svc:4318"
EXACT_TAG = re.compile(r"v?\d+\.\d+\.\d+")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE)["services"]


# ------------------------------------------------- the collector's pipelines ---


def pipeline_problems(config: dict[str, Any]) -> list[str]:
    """What a collector would refuse or silently ignore: a pipeline naming a
    component that is not defined, a defined one no pipeline uses, an extension
    not defined, a pipeline without receivers or exporters."""
    problems = []
    service = config["service"]
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for name, pipeline in service["pipelines"].items():
        if name.split("/")[0] not in {"traces", "logs", "metrics"}:
            problems.append(f"pipeline {name}: unknown signal")
        for kind in ("receivers", "exporters"):
            if not pipeline.get(kind):
                problems.append(f"pipeline {name}: no {kind}")
        for kind in used:
            for component in pipeline.get(kind, []):
                used[kind].add(component)
                if component not in (config.get(kind) or {}):
                    problems.append(f"pipeline {name}: {kind[:-1]} {component} is not defined")
    for kind, names in used.items():
        problems += [
            f"{kind[:-1]} {c} is used by no pipeline" for c in set(config.get(kind) or {}) - names
        ]
    for extension in service.get("extensions", []):
        if extension not in (config.get("extensions") or {}):
            problems.append(f"extension {extension} is not defined")
    return problems


@pytest.mark.parametrize("path", [COMPOSE_COLLECTOR, K8S_COLLECTOR], ids=["compose", "k8s"])
def test_every_pipeline_names_defined_components(path):
    config = load(path)
    assert pipeline_problems(config) == []
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "logs"}
    assert pipelines["traces"]["receivers"] == pipelines["logs"]["receivers"] == ["otlp"]
    # the limiter first (it refuses before anything is spent), the batch last
    for pipeline in pipelines.values():
        assert pipeline["processors"][0] == "memory_limiter"
        assert pipeline["processors"][-1] == "batch"
    # no span leaves with a query string (names and phone numbers are typed in there)
    assert "transform/strip_queries" in pipelines["traces"]["processors"]
    statements = " ".join(config["processors"]["transform/strip_queries"]["trace_statements"])
    for attribute in ("url.query", "http.url", "url.full", "http.target"):
        assert f'"{attribute}"' in statements, attribute
    (traces_out,) = pipelines["traces"]["exporters"]
    (logs_out,) = pipelines["logs"]["exporters"]
    assert traces_out.split("/")[0] == "otlp_grpc" and "tempo" in traces_out
    assert logs_out.split("/")[0] == "otlp_http" and "loki" in logs_out
    assert config["exporters"][logs_out]["endpoint"].endswith("/otlp")  # Loki's OTLP path
    receiver = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert receiver == "0.0.0.0:4318"  # not localhost: the services are elsewhere


@pytest.mark.parametrize(
    ("breakage", "mentions"),
    [
        (lambda c: c["service"]["pipelines"]["traces"]["processors"].append("tail"), "tail"),
        (lambda c: c["exporters"].update({"debug": {}}), "debug is used by no pipeline"),
        (lambda c: c["service"]["pipelines"]["logs"].update(exporters=[]), "no exporters"),
        (lambda c: c["service"]["extensions"].append("pprof"), "pprof"),
    ],
    ids=["undefined-processor", "unused-exporter", "no-exporter", "undefined-extension"],
)
def test_a_miswired_collector_config_is_caught(breakage, mentions):
    broken = copy.deepcopy(load(COMPOSE_COLLECTOR))
    breakage(broken)
    assert any(mentions in problem for problem in pipeline_problems(broken))


def test_compose_and_kubernetes_run_the_same_pipelines():
    compose_config, k8s_config = load(COMPOSE_COLLECTOR), load(K8S_COLLECTOR)
    assert compose_config["service"] == k8s_config["service"]
    assert compose_config["receivers"] == k8s_config["receivers"]
    assert compose_config["extensions"] == k8s_config["extensions"]
    assert set(compose_config["exporters"]) == set(k8s_config["exporters"])
    for name in ("transform/strip_queries", "batch"):
        assert compose_config["processors"][name] == k8s_config["processors"][name], name
    hosts = {
        name: urlsplit("//" + e["endpoint"].split("://")[-1]).hostname
        for name, e in k8s_config["exporters"].items()
    }
    assert hosts == {
        "otlp_grpc/tempo": "tempo.monitoring.svc",
        "otlp_http/loki": "loki.monitoring.svc",
    }


# ------------------------------------------------------------------ compose ---


def test_compose_sends_every_service_through_the_collector(compose):
    assert "jaeger" not in compose
    collector = compose["otel-collector"]
    config = load(COMPOSE_COLLECTOR)
    mounts = dict(v.split(":")[1::-1] for v in collector["volumes"])  # target -> source
    (flag,) = collector["command"]
    assert mounts[flag.removeprefix("--config=")] == "./" + str(COMPOSE_COLLECTOR.relative_to(ROOT))
    http_port = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rsplit(":", 1)[1]
    senders = {
        name: s for name, s in compose.items() if "OTEL_SERVICE_NAME" in s.get("environment", {})
    }
    assert {"intake", "search", "transfer", "referral", "followup", "summary", "console"} <= set(
        senders
    )
    for name, service in senders.items():
        endpoint = urlsplit(service["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (endpoint.hostname, str(endpoint.port)) == ("otel-collector", http_port), name
        assert "otel-collector" in service["depends_on"], name
        assert service["environment"].get("OTEL_LOGS_EXPORTER", "otlp") != "none", name

    # and the collector's exporters reach the backends where they listen
    exporters = config["exporters"]
    tempo, loki = load(TEMPO), load(LOKI)
    tempo_grpc = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert tempo_grpc == "0.0.0.0:4317"  # Tempo listens on localhost only by default
    assert exporters["otlp_grpc/tempo"]["endpoint"] == "tempo:" + tempo_grpc.rsplit(":", 1)[1]
    loki_url = urlsplit(exporters["otlp_http/loki"]["endpoint"])
    assert (loki_url.hostname, loki_url.port) == ("loki", loki["server"]["http_listen_port"])
    # the OTLP records' trace_id and span_id are kept (as structured metadata)
    assert loki["limits_config"]["allow_structured_metadata"] is True
    assert {"tempo", "loki"} <= set(collector["depends_on"])


@pytest.mark.parametrize("name", ["tempo", "loki"])
def test_compose_backends_read_their_config_and_keep_data_on_a_volume(compose, name):
    service = compose[name]
    config_file = {"tempo": TEMPO, "loki": LOKI}[name]
    mounts = dict(v.split(":")[1::-1] for v in service["volumes"])
    (flag,) = service["command"]
    assert mounts[flag.removeprefix("-config.file=")] == "./" + str(config_file.relative_to(ROOT))
    config = load(config_file)
    data_dir = "/var/tempo" if name == "tempo" else config["common"]["path_prefix"]
    assert mounts[data_dir] == f"{name}-data"
    assert f"{name}-data" in load(COMPOSE)["volumes"]
    if name == "tempo":  # the volume is made writable for Tempo's user first
        init = compose["tempo-init"]
        assert init["image"] == service["image"]
        assert dict(v.split(":")[1::-1] for v in init["volumes"])[data_dir] == "tempo-data"
        condition = service["depends_on"]["tempo-init"]["condition"]
        assert condition == "service_completed_successfully"


@pytest.mark.parametrize(
    ("service", "image"),
    [
        ("otel-collector", "otel/opentelemetry-collector-contrib"),
        ("tempo", "grafana/tempo"),
        ("loki", "grafana/loki"),
    ],
)
def test_observability_images_are_pinned_to_a_release(compose, service, image):
    name, tag = compose[service]["image"].split("@")[0].split(":")  # a digest may follow
    assert name == image
    assert EXACT_TAG.fullmatch(tag), f"{service}: pin an exact version, got {tag}"


def test_prometheus_keeps_exemplars(compose):
    # Without the flag Prometheus drops the exemplars it scrapes.
    assert "--enable-feature=exemplar-storage" in compose["prometheus"]["command"]


# ------------------------------------------------------------------ grafana ---


def provisioned() -> dict[str, dict[str, Any]]:
    sources = [
        source
        for path in sorted(DATASOURCES.glob("*.y*ml"))
        for source in load(path)["datasources"]
    ]
    by_uid = {source["uid"]: source for source in sources}
    assert len(by_uid) == len(sources), "two datasources with one uid"
    return by_uid


def dangling_uids(sources: dict[str, dict[str, Any]]) -> list[str]:
    """Every datasourceUid a datasource links to, that no datasource has."""

    def refs(node: Any):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "datasourceUid":
                    yield value
                yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    return [
        f"{uid} -> {ref}"
        for uid, source in sources.items()
        for ref in refs(source.get("jsonData", {}))
        if ref not in sources
    ]


def check_links(sources: dict[str, dict[str, Any]]) -> None:
    """Exemplar -> trace, trace -> its logs, log line -> its trace."""
    assert {s["type"] for s in sources.values()} >= {"tempo", "loki"}
    assert dangling_uids(sources) == []
    tempo = next(s for s in sources.values() if s["type"] == "tempo")
    loki = next(s for s in sources.values() if s["type"] == "loki")

    logs = tempo["jsonData"]["tracesToLogsV2"]
    assert logs["datasourceUid"] == loki["uid"]
    # Loki's OTLP ingestion turns service.name into the label service_name
    assert {"key": "service.name", "value": "service_name"} in logs["tags"]
    assert logs["customQuery"] is True
    assert logs["query"] == '{$${__tags}} | trace_id="$${__trace.traceId}"'

    (derived,) = loki["jsonData"]["derivedFields"]
    assert derived["datasourceUid"] == tempo["uid"]
    assert (derived["matcherType"], derived["matcherRegex"]) == ("label", "trace_id")
    assert derived["url"] == "$${__value.raw}"


def test_grafana_links_exemplars_traces_and_logs_by_uid():
    sources = provisioned()
    check_links(sources)
    (prometheus,) = [s for s in sources.values() if s["type"] == "prometheus"]
    (destination,) = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert destination["datasourceUid"] == "tempo" == sources["tempo"]["uid"]
    # the label the services put on their exemplars
    with TracerProvider().get_tracer("test").start_as_current_span("a request"):
        exemplar = telemetry.trace_exemplar()
    assert exemplar is not None and destination["name"] in exemplar


def test_grafana_datasources_reach_the_compose_backends(compose):
    sources = provisioned()
    tempo_port = load(TEMPO)["server"]["http_listen_port"]
    loki_port = load(LOKI)["server"]["http_listen_port"]
    assert sources["tempo"]["url"] == f"http://tempo:{tempo_port}"
    assert sources["loki"]["url"] == f"http://loki:{loki_port}"
    assert {"tempo", "loki"} <= set(compose["grafana"]["depends_on"])


def test_a_dangling_datasource_link_is_caught():
    sources = copy.deepcopy(provisioned())
    sources["loki"]["jsonData"]["derivedFields"][0]["datasourceUid"] = "jaeger"
    assert dangling_uids(sources) == ["loki -> jaeger"]
    del sources["tempo"]
    assert len(dangling_uids(sources)) == 2  # prometheus' exemplars and loki's lines


def test_provisioning_escapes_grafanas_own_variables():
    # Grafana expands $VAR and ${VAR} in provisioning files from its environment: a
    # query's ${__trace.traceId} must be written $${...} or it arrives empty.
    escaped = 0
    for path in [*sorted(DATASOURCES.glob("*.y*ml")), K8S_DATASOURCES]:
        lines = path.read_text(encoding="utf-8").splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        assert not re.search(r"(?<!\$)\$(\{|__)", text), path.name
        escaped += len(re.findall(r"\$\$(?:\{|__)", text))
    assert escaped >= 6  # the traces' log and metric queries, the lines' trace link


def test_kubernetes_datasources_link_like_composes():
    (doc,) = [load(K8S_DATASOURCES)]
    sources = {s["uid"]: s for s in doc["datasources"]}
    assert set(sources) == {"tempo", "loki"}
    # prometheus is kube-prometheus-stack's own, with the same uid as in compose
    check_links(sources | {"prometheus": provisioned()["prometheus"]})
    compose_sources = provisioned()
    for uid, source in sources.items():
        links = {k: v for k, v in source["jsonData"].items() if not k.startswith("httpHeader")}
        assert links == compose_sources[uid]["jsonData"], uid
    collector = load(K8S_COLLECTOR)["exporters"]
    assert (
        urlsplit(sources["tempo"]["url"]).hostname
        == collector["otlp_grpc/tempo"]["endpoint"].split(":")[0]
    )
    assert (
        urlsplit(sources["loki"]["url"]).hostname
        == urlsplit(collector["otlp_http/loki"]["endpoint"]).hostname
    )
    # the tenant the collector writes as is the one Grafana reads
    assert (
        sources["loki"]["secureJsonData"]["httpHeaderValue1"]
        == (collector["otlp_http/loki"]["headers"]["X-Scope-OrgID"])
    )


def test_the_latency_panel_shows_exemplars():
    dashboard = json.loads((DASHBOARDS / "network-health.json").read_text(encoding="utf-8"))
    targets = [
        target
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "rescue_http_request_duration_seconds_bucket" in target["expr"]
    ]
    assert targets and all(target.get("exemplar") is True for target in targets)


# --------------------------------------------------------------- kubernetes ---


def render_collector() -> list[dict[str, Any]]:
    result = subprocess.run(
        [KUBECTL, "kustomize", str(K8S_COLLECTOR_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(docs, kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


@needs_kubectl
def test_the_kubernetes_collector_validates_and_is_where_the_services_send():
    docs = render_collector()
    problems = {
        f"{d['kind']}/{d['metadata']['name']}": e for d in docs if (e := manifest_errors(d))
    }
    assert not problems, json.dumps(problems, indent=2)
    assert {d["metadata"]["namespace"] for d in docs} == {"monitoring"}

    endpoint = urlsplit(K8S_ENDPOINT)
    service, deployment = one(docs, "Service"), one(docs, "Deployment")
    name, namespace = endpoint.hostname.split(".")[:2]
    assert (service["metadata"]["name"], service["metadata"]["namespace"]) == (name, namespace)
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == endpoint.port]
    pod = deployment["spec"]["template"]
    assert selector_matches({"matchLabels": service["spec"]["selector"]}, pod["metadata"]["labels"])
    (container,) = pod["spec"]["containers"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named[port["targetPort"]] == 4318

    # the pipelines it runs are the file in git, mounted where --config points
    config_map = one(docs, "ConfigMap")
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == load(K8S_COLLECTOR)
    (volume,) = [v for v in pod["spec"]["volumes"] if v.get("configMap")]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    (config_flag,) = [a for a in container["args"] if a.startswith("--config=")]
    assert config_flag == f"--config={mount['mountPath']}/config.yaml"
    health = load(K8S_COLLECTOR)["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1]
    assert named[container["readinessProbe"]["httpGet"]["port"]] == int(health)
    image, tag = container["image"].split("@")[0].split(":")  # a digest may follow
    assert image == "otel/opentelemetry-collector-contrib" and EXACT_TAG.fullmatch(tag)
    # the same release, and the same digest, as docker-compose.yml's collector
    assert container["image"] == load(COMPOSE)["services"]["otel-collector"]["image"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_services_export_to_the_collector_and_may_reach_it(overlay):
    docs = render(overlay)
    collector = render_collector()
    collector_pod = one(collector, "Deployment")["spec"]["template"]["metadata"]["labels"]
    config_maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert len(deployments) == 7
    (collector_policy,) = [d for d in collector if d["kind"] == "NetworkPolicy"]
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        (container,) = [c for c in pod["spec"]["containers"] if c["name"] == name]
        env = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env |= config_maps[source["configMapRef"]["name"]]["data"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == K8S_ENDPOINT, name

        # out of rescue: some egress rule admits the collector's pods on 4318
        allowed = any(
            4318 in {p["port"] for p in rule.get("ports", [])}
            and any(
                peer.get("namespaceSelector", {}).get("matchLabels")
                == {"kubernetes.io/metadata.name": "monitoring"}
                and selector_matches(peer.get("podSelector", {}), collector_pod)
                for peer in rule.get("to", [])
            )
            for policy in policies
            if selector_matches(policy["spec"]["podSelector"], labels)
            for rule in policy["spec"].get("egress", [])
        )
        assert allowed, f"{name} may not reach the collector"
        # into monitoring: the collector's policy admits this pod on 4318
        admitted = any(
            4318 in {p["port"] for p in rule.get("ports", [])}
            and any(
                peer.get("namespaceSelector", {}).get("matchLabels")
                == {"kubernetes.io/metadata.name": "rescue"}
                and selector_matches(peer["podSelector"], labels)
                for peer in rule["from"]
            )
            for rule in collector_policy["spec"]["ingress"]
        )
        assert admitted, f"the collector does not admit {name}"


@needs_kubectl
def test_the_collector_may_reach_tempo_and_loki_only():
    collector = render_collector()
    (policy,) = [d for d in collector if d["kind"] == "NetworkPolicy"]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    exporters = load(K8S_COLLECTOR)["exporters"]
    wanted = {
        int(exporters["otlp_grpc/tempo"]["endpoint"].rsplit(":", 1)[1]),
        urlsplit(exporters["otlp_http/loki"]["endpoint"]).port,
    }
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports == wanted | {53}
