"""Offline checks of the deployment files.

docker-compose.yml, deploy/docker/service.Dockerfile and the kustomize tree in
deploy/k8s are parsed as YAML (or text) and held to the conventions the services
are written to: names, ports, probes, settings prefixes, topics, secrets. No
network, Docker or cluster is needed. When kubectl is installed, both overlays
are also rendered with its built-in kustomize, which is offline too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
# development mode: docker compose reads it beside docker-compose.yml (the secrets)
COMPOSE_OVERRIDE = ROOT / "docker-compose.override.yml"
ENV_EXAMPLE = ROOT / "deploy/compose/.env.example"
DOCKERFILE = ROOT / "deploy/docker/service.Dockerfile"
DOCKERIGNORE = ROOT / "deploy/docker/service.Dockerfile.dockerignore"
CONSOLE_DOCKERFILE = ROOT / "deploy/docker/console.Dockerfile"
CONSOLE_DOCKERIGNORE = ROOT / "deploy/docker/console.Dockerfile.dockerignore"
K8S = ROOT / "deploy/k8s"
SECRET_EXAMPLE = K8S / "secret.example.yaml"
OVERLAYS = ("dev", "production")

SERVICES = ("intake", "search", "transfer", "referral", "followup", "summary")
HOST_PORTS = dict(zip(SERVICES, range(8101, 8101 + len(SERVICES)), strict=True))
CONSOLE = "console"  # the station console: a client of the five services' APIs
CONTAINER_PORT = 8000


def expected_topics() -> dict[str, int]:
    """Topic name -> partitions that every manifest must declare: the registry's
    event topics, and a dead-letter topic for every service that consumes."""
    import rescue_events.contracts  # noqa: F401  (registers the topics)
    from rescue_events.registry import DEAD_LETTER_PARTITIONS, dead_letter_topic_name, registry

    topics = {t.name: t.partitions for t in registry.topics.values()}
    topics |= {dead_letter_topic_name(svc): DEAD_LETTER_PARTITIONS for svc in SERVICES}
    return topics


def prefix(svc: str) -> str:
    return svc.upper() + "_"


# A compose interpolation without a default: ${VAR} or ${VAR:?message}.
# ${VAR:-default} is refused for secrets: the default would be a secret in git.
INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\}")
SECRET_KEY = re.compile(r"(SECRET|PASSWORD)$", re.IGNORECASE)
URL_PASSWORD = re.compile(r"://[^:/@\s]+:(?P<password>\$\{[^}]*\}|[^@\s/]+)@")


# --------------------------------------------------------------- helpers ---


def load_docs(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def load_one(path: Path) -> dict[str, Any]:
    docs = load_docs(path)
    assert len(docs) == 1, f"{path}: expected one YAML document, found {len(docs)}"
    return docs[0]


def kustomization_files() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def collect(kdir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Resources (untransformed) and configMapGenerator entries of a kustomization, recursively."""
    kustomization = load_one(kdir / "kustomization.yaml")
    docs: list[dict[str, Any]] = []
    generators: list[dict[str, Any]] = list(kustomization.get("configMapGenerator", []))
    for entry in kustomization.get("resources", []):
        target = (kdir / entry).resolve()
        if target.is_dir():
            sub_docs, sub_generators = collect(target)
            docs += sub_docs
            generators += sub_generators
        else:
            docs += load_docs(target)
    return docs, generators


def merged(base: Any, override: Any) -> Any:
    """``override`` on ``base`` as compose merges mappings (the override's keys win)."""
    if isinstance(base, dict) and isinstance(override, dict):
        return base | {key: merged(base.get(key), value) for key, value in override.items()}
    return override


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The development configuration: docker-compose.yml with its override."""
    return merged(load_one(COMPOSE), load_one(COMPOSE_OVERRIDE))


@pytest.fixture(scope="module")
def base() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return collect(K8S / "base")


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc["kind"] == kind:
            name = doc["metadata"]["name"]
            assert name not in found, f"two {kind} named {name}"
            found[name] = doc
    return found


def generator_literals(entry: dict[str, Any]) -> dict[str, str]:
    return dict(literal.split("=", 1) for literal in entry.get("literals", []))


def as_env_dict(environment: Any) -> dict[str, Any]:
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    return dict(environment or {})


def walk(node: Any, path: str = ""):
    """Yield (path, key, value) for every mapping entry and 'K=V' list item."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", str(key), value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", item):
                key, value = item.split("=", 1)
                yield f"{path}[{index}]", key, value
            yield from walk(item, f"{path}[{index}]")


# --------------------------------------------------------------- compose ---


def test_compose_infrastructure(compose):
    services = compose["services"]
    for name in ("kafka", "postgres", "otel-collector", "prometheus", "grafana", *SERVICES):
        assert name in services, f"compose has no service {name!r}"

    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    kafka_env = as_env_dict(kafka["environment"])
    assert str(kafka_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false"
    assert "controller" in kafka_env["KAFKA_PROCESS_ROLES"], "Kafka must run in KRaft mode"
    assert not any("ZOOKEEPER" in key for key in kafka_env)
    assert "kafka:9092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert "healthcheck" in kafka

    postgres = services["postgres"]
    assert "pgvector" in postgres["image"]
    assert "healthcheck" in postgres

    # traces and logs: the collector in front of Tempo and Loki (test_observability_pipeline)
    collector_ports = {str(port).split(":")[-1] for port in services["otel-collector"]["ports"]}
    assert "4318" in collector_ports

    # metrics: Prometheus scrapes the services, Grafana shows the dashboards
    for name, image, port in (
        ("prometheus", "prom/prometheus:", "9090"),
        ("grafana", "grafana/grafana:", "3000"),
    ):
        service = services[name]
        assert service["image"].startswith(image), service["image"]
        tag = service["image"].split("@")[0].split(":", 1)[1]  # a digest may follow
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: pin the image tag, got {tag}"
        assert "healthcheck" in service, name
        assert any(str(p).endswith(f":{port}") for p in service["ports"]), name
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    grafana_env = as_env_dict(services["grafana"]["environment"])
    assert INTERPOLATION.fullmatch(grafana_env["GF_SECURITY_ADMIN_PASSWORD"])


@pytest.mark.parametrize("svc", SERVICES)
def test_compose_service(compose, svc):
    service = compose["services"][svc]
    build = service["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/docker/service.Dockerfile"
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    assert build["args"]["SERVICE"] == svc

    healthcheck = " ".join(map(str, service["healthcheck"]["test"]))
    assert f"{CONTAINER_PORT}/health/ready" in healthcheck

    depends_on = service["depends_on"]
    for dependency in ("kafka", "postgres"):
        assert depends_on[dependency]["condition"] == "service_healthy", (svc, dependency)

    assert f"{HOST_PORTS[svc]}:{CONTAINER_PORT}" in [str(p) for p in service["ports"]]

    start = " ".join(map(str, service.get("entrypoint", []) + service.get("command", [])))
    assert "migrate" in start and "serve" in start, "migrations must run before serving"
    assert start.index("migrate") < start.index("serve")

    env = as_env_dict(service["environment"])
    p = prefix(svc)
    assert env["OTEL_SERVICE_NAME"] == svc
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert env[f"{p}KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert f"{p}JWT_SECRET" in env
    assert f"{p}ENVIRONMENT" in env
    assert int(env[f"{p}KAFKA_TOPIC_REPLICATION"]) == 1
    url = env[f"{p}DATABASE_URL"]
    assert url.startswith(f"postgresql+asyncpg://{svc}:"), url
    assert url.endswith(f"@postgres:5432/{svc}"), url
    # a block copied from another service keeps that service's prefix
    others = [prefix(other) for other in SERVICES if other != svc]
    strays = [key for key in env if key.startswith(tuple(others))]
    assert not strays, f"{svc} has settings of other services: {strays}"


def test_compose_has_no_literal_secrets(compose):
    checked = 0
    for path, key, value in walk(compose):
        if SECRET_KEY.search(key) and not isinstance(value, (dict, list)):
            assert isinstance(value, str) and INTERPOLATION.fullmatch(value), (
                f"{path}: secret must be a ${{VAR}} or ${{VAR:?msg}} interpolation, got {value!r}"
            )
            checked += 1
        if isinstance(value, str):
            for match in URL_PASSWORD.finditer(value):
                assert INTERPOLATION.fullmatch(match["password"]), f"{path}: password in URL"
                checked += 1
    # 5 JWT secrets, 5 database URLs, the superuser, 5 role passwords, Grafana's admin
    assert checked >= 17, f"only {checked} secret values found: has the compose file changed shape?"


def test_env_example_documents_every_compose_variable():
    text = COMPOSE.read_text(encoding="utf-8") + COMPOSE_OVERRIDE.read_text(encoding="utf-8")
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    documented = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line)
    )
    assert used, "compose reads no variables?"
    assert used <= documented.keys(), f"undocumented: {sorted(used - documented.keys())}"
    for name, value in documented.items():
        if SECRET_KEY.search(name):
            assert value == "", f".env.example must not carry a value for {name}"


def test_compose_topics(compose):
    env = as_env_dict(compose["services"]["kafka-topics"]["environment"])
    declared = {
        name: int(partitions)
        for name, partitions in (spec.split(":") for spec in env["RESCUE_TOPICS"].split())
    }
    assert declared == expected_topics()


def test_compose_postgres_init(compose):
    postgres = compose["services"]["postgres"]
    mounts = [str(volume) for volume in postgres["volumes"]]
    init = [m for m in mounts if "/docker-entrypoint-initdb.d/" in m]
    assert len(init) == 1, mounts
    script = ROOT / init[0].split(":")[0]
    assert script.is_file() and os.access(script, os.X_OK), script
    text = script.read_text(encoding="utf-8")
    listed = re.search(r"^services=\(([^)]*)\)", text, re.MULTILINE)
    assert listed and set(listed[1].split()) == set(SERVICES)
    assert re.search(r"--dbname search\b.*\n\s*CREATE EXTENSION IF NOT EXISTS vector", text)
    env = as_env_dict(postgres["environment"])
    for svc in SERVICES:
        assert f"{prefix(svc)}DB_PASSWORD" in env


# ------------------------------------------------------------ dockerfile ---


def test_dockerfile():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG SERVICE\b", text, re.MULTILINE)
    assert re.search(r"uv==0\.13\.8 --hash=sha256:[0-9a-f]{64}", text), "uv must be pinned"
    assert re.search(r"uv sync --frozen --no-dev[^\n]*--package \"?rescue-\$\{SERVICE\}", text)
    # an exact Python and Debian release, by its digest
    exact = r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}$"
    assert re.search(exact, text, re.MULTILINE)
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.MULTILINE)
    assert stages[-1] == ("${PYTHON_IMAGE}", "runtime"), "last stage must be the slim runtime"
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"^EXPOSE 8000\b", text, re.MULTILINE)
    assert re.search(r"^ENTRYPOINT .*python -m", text, re.MULTILINE)
    assert re.search(r'^CMD \["serve"', text, re.MULTILINE)
    assert "libs/localnet libs/localnet" not in text, "localnet is for local runs only"

    ignored = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    for pattern in ("**/.venv", "var/", ".git", "tests/"):
        assert pattern in ignored, pattern


# ------------------------------------------------------------- kustomize ---


def test_kustomizations_reference_existing_parsable_files():
    files = kustomization_files()
    assert K8S / "base/kustomization.yaml" in files
    for overlay in OVERLAYS:
        assert K8S / "overlays" / overlay / "kustomization.yaml" in files
    for kustomization_file in files:
        kdir = kustomization_file.parent
        kustomization = load_one(kustomization_file)
        assert kustomization["kind"] == "Kustomization"
        for entry in kustomization.get("resources", []):
            target = kdir / entry
            assert target.exists(), f"{kustomization_file}: missing resource {entry}"
            if target.is_dir():
                assert (target / "kustomization.yaml").is_file(), f"{target} is no kustomization"
                continue
            docs = load_docs(target)
            assert docs, f"{target} is empty"
            for doc in docs:
                assert doc.get("apiVersion") and doc.get("kind"), f"{target}: {doc}"
                assert doc.get("metadata", {}).get("name"), f"{target}: unnamed {doc['kind']}"
        for patch in kustomization.get("patches", []):
            if "path" in patch:
                assert (kdir / patch["path"]).is_file(), f"{kustomization_file}: {patch['path']}"
            else:
                assert patch.get("patch") and patch.get("target"), patch


def test_secrets_are_not_in_the_kustomize_tree(base):
    assert SECRET_EXAMPLE.is_file()
    for kustomization_file in kustomization_files():
        for entry in load_one(kustomization_file).get("resources", []):
            resolved = (kustomization_file.parent / entry).resolve()
            assert resolved != SECRET_EXAMPLE.resolve(), f"{kustomization_file} lists the example"
    for overlay in OVERLAYS:
        docs, _ = collect(K8S / "overlays" / overlay)
        assert not of_kind(docs, "Secret"), f"{overlay} ships a Secret"
    for doc in load_docs(SECRET_EXAMPLE):
        assert doc["kind"] == "Secret"
        for key, value in doc["stringData"].items():
            if key in {"jwt-secret", "password"}:
                assert value == "REPLACE_ME", f"{doc['metadata']['name']}.{key}"
            if key in {"database-url", "owner-database-url"}:
                assert URL_PASSWORD.search(value)["password"] == "REPLACE_ME"


@pytest.mark.parametrize("svc", SERVICES)
def test_deployment(base, svc):
    docs, _ = base
    deployment = of_kind(docs, "Deployment")[svc]
    pod = deployment["spec"]["template"]["spec"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}

    (app,) = [c for c in pod["containers"] if c["name"] == svc]
    init = pod.get("initContainers", [])
    migrate = [c for c in init if "migrate" in c.get("command", []) + c.get("args", [])]
    assert migrate, f"{svc}: no initContainer running migrate"
    assert "-m" in migrate[0]["command"] and svc in migrate[0]["command"]
    assert app["image"] == migrate[0]["image"] == f"rescue-{svc}"
    assert app["command"] == ["python", "-m", svc] and app["args"][0] == "serve"

    ports = {p["name"]: p["containerPort"] for p in app["ports"]}
    assert ports == {"http": CONTAINER_PORT}
    for probe, path in (
        ("livenessProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
        ("startupProbe", "/health/live"),
    ):
        get = app[probe]["httpGet"]
        assert get["path"] == path, (svc, probe)
        assert get["port"] in ("http", CONTAINER_PORT), (svc, probe)

    for container in (app, *migrate):
        resources = container["resources"]
        for section in ("requests", "limits"):
            assert {"cpu", "memory"} <= resources[section].keys(), (container["name"], section)
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts.get("/tmp") in tmp_volumes, f"{container['name']}: /tmp must be an emptyDir"

        env = {e["name"]: e for e in container["env"]}
        for setting, key in (("DATABASE_URL", "database-url"), ("JWT_SECRET", "jwt-secret")):
            ref = env[prefix(svc) + setting]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": f"rescue-{svc}-secrets", "key": key}
        config_maps = [e["configMapRef"]["name"] for e in container["envFrom"]]
        assert config_maps == [f"{svc}-config"]
    # the owner's URL (it can change the schema) where migrations run, never in the app
    owner_url = prefix(svc) + "OWNER_DATABASE_URL"
    ref = {e["name"]: e for e in migrate[0]["env"]}[owner_url]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": f"rescue-{svc}-secrets", "key": "owner-database-url"}
    assert owner_url not in {e["name"] for e in app["env"]}


@pytest.mark.parametrize("svc", SERVICES)
def test_service_hpa_pdb_and_config(base, svc):
    docs, generators = base
    pod_labels = of_kind(docs, "Deployment")[svc]["spec"]["template"]["metadata"]["labels"]

    service = of_kind(docs, "Service")[svc]
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, "http")]

    hpa = of_kind(docs, "HorizontalPodAutoscaler")[svc]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": svc,
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}

    pdb = of_kind(docs, "PodDisruptionBudget")[svc]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    (config,) = [g for g in generators if g["name"] == f"{svc}-config"]
    literals = generator_literals(config)
    p = prefix(svc)
    kafka_name = next(iter(of_kind(docs, "Kafka")))
    assert literals[f"{p}KAFKA_BOOTSTRAP_SERVERS"] == f"{kafka_name}-kafka-bootstrap:9093"
    # the tls listener's SCRAM login: the service's own KafkaUser (test_kafka_access.py)
    assert literals[f"{p}KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert literals[f"{p}KAFKA_SASL_USERNAME"] == f"service-{svc}"
    assert literals[f"{p}KAFKA_TOPIC_REPLICATION"] == "3"
    assert literals[f"{p}ENVIRONMENT"] in {"development", "production"}
    assert literals["OTEL_SERVICE_NAME"] == svc
    assert literals["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http")
    assert not [key for key in literals if SECRET_KEY.search(key) or "DATABASE_URL" in key]


def test_kafka_cluster_and_topics(base):
    docs, _ = base
    (kafka,) = of_kind(docs, "Kafka").values()
    cluster = kafka["metadata"]["name"]
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    assert "zookeeper" not in kafka["spec"]
    # no plaintext listener: every client logs in (SCRAM) over TLS (test_kafka_access.py)
    listeners = {(ln["name"], ln["port"], ln["tls"]) for ln in kafka["spec"]["kafka"]["listeners"]}
    assert listeners == {("tls", 9093, True), ("external", 9094, True)}

    pools = of_kind(docs, "KafkaNodePool").values()
    roles = {role for pool in pools for role in pool["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    for pool in pools:
        assert pool["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster

    topics = of_kind(docs, "KafkaTopic")
    declared = {}
    for name, topic in topics.items():
        assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        declared[topic["spec"].get("topicName", name)] = topic["spec"]["partitions"]
    assert declared == expected_topics()


def test_postgres_cluster_and_databases(base):
    docs, _ = base
    (cluster,) = of_kind(docs, "Cluster").values()
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    name = cluster["metadata"]["name"]
    roles = {role["name"]: role for role in cluster["spec"]["managed"]["roles"]}
    # two per service: the owner migrates, the service runs as its own role
    assert set(roles) == {*SERVICES, *(f"{svc}_owner" for svc in SERVICES)}
    for role_name, role in roles.items():
        assert role["login"] is True
        assert role["passwordSecret"]["name"] == "rescue-pg-" + role_name.replace("_", "-")
        assert not role.get("superuser") and not role.get("createdb"), role_name

    databases = {db["spec"]["name"]: db for db in of_kind(docs, "Database").values()}
    assert set(databases) == set(SERVICES)
    for svc, db in databases.items():
        assert db["apiVersion"] == "postgresql.cnpg.io/v1"
        assert db["spec"]["owner"] == f"{svc}_owner"
        assert db["spec"]["cluster"]["name"] == name
        extensions = {e["name"] for e in db["spec"].get("extensions", [])}
        assert ("vector" in extensions) == (svc == "search"), svc

    urls = {
        doc["metadata"]["name"]: doc["stringData"]["database-url"]
        for doc in load_docs(SECRET_EXAMPLE)
        if "database-url" in doc.get("stringData", {})
    }
    owner_urls = {
        doc["metadata"]["name"]: doc["stringData"]["owner-database-url"]
        for doc in load_docs(SECRET_EXAMPLE)
        if "owner-database-url" in doc.get("stringData", {})
    }
    for svc in SERVICES:
        assert urls[f"rescue-{svc}-secrets"].endswith(f"@{name}-rw:5432/{svc}")
        assert urls[f"rescue-{svc}-secrets"].startswith(f"postgresql+asyncpg://{svc}:")
        owner_url = owner_urls[f"rescue-{svc}-secrets"]
        assert owner_url.startswith(f"postgresql+asyncpg://{svc}_owner:")
        assert owner_url.endswith(f"@{name}-rw:5432/{svc}")


def test_network_policies(base):
    docs, _ = base
    policies = list(of_kind(docs, "NetworkPolicy").values())
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and p["spec"]["policyTypes"] == ["Ingress"]
        and not p["spec"].get("ingress")
    ]
    assert deny, "no default-deny ingress policy"

    pod_labels = of_kind(docs, "Deployment")["intake"]["spec"]["template"]["metadata"]["labels"]

    def selects_services(policy):
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        return selector and selector.items() <= pod_labels.items()

    ingress_namespaces, ingress_ports, egress_ports = set(), set(), set()
    for policy in filter(selects_services, policies):
        for rule in policy["spec"].get("ingress", []):
            ingress_ports |= {p["port"] for p in rule.get("ports", [])}
            for peer in rule.get("from", []):
                labels = peer.get("namespaceSelector", {}).get("matchLabels", {})
                ingress_namespaces |= set(labels.values())
        for rule in policy["spec"].get("egress", []):
            egress_ports |= {p["port"] for p in rule.get("ports", [])}
    assert ingress_ports == {CONTAINER_PORT}
    assert "monitoring" in ingress_namespaces and len(ingress_namespaces) >= 2
    assert {9093, 5432, 4318, 53} <= egress_ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_settings(overlay):
    kustomization = load_one(K8S / "overlays" / overlay / "kustomization.yaml")
    assert "../../base" in kustomization["resources"]
    assert kustomization.get("namespace") == "rescue"
    expected = {
        "dev": ("development", "1", 1),
        "production": ("production", "3", 3),
    }[overlay]
    merges = {g["name"]: g for g in kustomization["configMapGenerator"]}
    for svc in SERVICES:
        entry = merges[f"{svc}-config"]
        assert entry["behavior"] == "merge"
        literals = generator_literals(entry)
        p = prefix(svc)
        assert (literals[f"{p}ENVIRONMENT"], literals[f"{p}KAFKA_TOPIC_REPLICATION"]) == expected[
            :2
        ]
    images = {image["name"] for image in kustomization["images"]}
    assert images == {f"rescue-{svc}" for svc in (*SERVICES, CONSOLE)}
    hpa_patches = [
        p for p in kustomization["patches"] if p["target"]["kind"] == "HorizontalPodAutoscaler"
    ]
    (hpa_patch,) = hpa_patches
    ops = {op["path"]: op["value"] for op in yaml.safe_load(hpa_patch["patch"])}
    assert ops["/spec/minReplicas"] == expected[2]


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed"
)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders(overlay):
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"} == {
        "rescue"
    }
    config_maps = of_kind(docs, "ConfigMap")
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == {*SERVICES, CONSOLE}
    environment = "production" if overlay == "production" else "development"
    (console,) = deployments[CONSOLE]["spec"]["template"]["spec"]["containers"]
    assert console["image"].rsplit(":", 1)[0].endswith(f"/{CONSOLE}"), console["image"]
    (ref,) = console["envFrom"]
    assert config_maps[ref["configMapRef"]["name"]]["data"]["OTEL_SERVICE_NAME"] == CONSOLE
    for svc in SERVICES:
        pod = deployments[svc]["spec"]["template"]["spec"]
        for container in pod["containers"] + pod["initContainers"]:
            assert container["image"].rsplit(":", 1)[0].endswith(f"/{svc}"), container["image"]
            (ref,) = container["envFrom"]
            data = config_maps[ref["configMapRef"]["name"]]["data"]
            assert data[f"{prefix(svc)}ENVIRONMENT"] == environment
    hpas = of_kind(docs, "HorizontalPodAutoscaler").values()
    assert {hpa["spec"]["minReplicas"] for hpa in hpas} == {3 if overlay == "production" else 1}
    topics = of_kind(docs, "KafkaTopic").values()
    declared = {
        t["spec"].get("topicName", t["metadata"]["name"]): t["spec"]["partitions"] for t in topics
    }
    assert declared == expected_topics()


# --------------------------------------------------------------- console ---


def test_compose_console(compose):
    console = compose["services"][CONSOLE]
    build = console["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == str(CONSOLE_DOCKERFILE.relative_to(ROOT))
    assert "8100:8000" in [str(p) for p in console["ports"]]
    healthcheck = " ".join(map(str, console["healthcheck"]["test"]))
    assert f"{CONTAINER_PORT}/health/ready" in healthcheck
    for svc in SERVICES:
        assert console["depends_on"][svc]["condition"] == "service_healthy", svc
    assert "postgres" not in console["depends_on"], "the console owns no data"
    assert console["read_only"] is True and console["cap_drop"] == ["ALL"]

    env = as_env_dict(console["environment"])
    for svc in SERVICES:
        assert env[f"CONSOLE_{svc.upper()}_URL"] == f"http://{svc}:{CONTAINER_PORT}"
    assert env["OTEL_SERVICE_NAME"] == CONSOLE
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    # its sign-in mints tokens the services trust: their secret, never a literal
    secret = as_env_dict(compose["services"]["intake"]["environment"])["INTAKE_JWT_SECRET"]
    assert env["CONSOLE_DEV_JWT_SECRET"] == secret
    strays = [key for key in env if key.startswith(tuple(prefix(svc) for svc in SERVICES))]
    assert not strays, strays


def test_console_dockerfile():
    text = CONSOLE_DOCKERFILE.read_text(encoding="utf-8")
    service_text = DOCKERFILE.read_text(encoding="utf-8")
    # the same pinned base and uv as the services' image
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", service_text, re.M) == [base]
    assert "uv==0.13.8 --hash=sha256:" in text and "--require-hashes" in text
    assert re.search(r"uv sync --frozen --no-dev[^\n]*--package \"?rescue-console", text)
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.MULTILINE)
    assert stages[-1] == ("${PYTHON_IMAGE}", "runtime"), "last stage must be the slim runtime"
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"^EXPOSE 8000\b", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n?.*8000/health/ready", text, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["python", "-m", "rescue_console"\]', text, re.MULTILINE)
    # only the console and the libraries it uses: no service's code, no localnet
    copied = set(re.findall(r"^COPY (?:--from=builder )?/?(?:app/)?(\S+)", text, re.MULTILINE))
    assert {"libs/events", "libs/chassis", "apps/console"} <= copied
    assert not [c for c in copied if c.startswith(("services", "libs/localnet"))], copied

    ignored = CONSOLE_DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    for pattern in ("**/.venv", "var/", ".git", "tests/", "services/"):
        assert pattern in ignored, pattern


def test_console_deployment(base):
    docs, generators = base
    deployment = of_kind(docs, "Deployment")[CONSOLE]
    template = deployment["spec"]["template"]
    pod, labels = template["spec"], template["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == CONSOLE
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert "initContainers" not in pod, "the console owns no data: nothing to migrate"
    (app,) = pod["containers"]
    assert app["image"] == f"rescue-{CONSOLE}"
    assert app["command"] == ["python", "-m", "rescue_console"] and app["args"][0] == "serve"
    assert {p["name"]: p["containerPort"] for p in app["ports"]} == {"http": CONTAINER_PORT}
    for probe, path in (
        ("livenessProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
        ("startupProbe", "/health/live"),
    ):
        assert app[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    assert {"cpu", "memory"} <= app["resources"]["limits"].keys()
    assert app["securityContext"]["readOnlyRootFilesystem"] is True
    assert app["securityContext"]["allowPrivilegeEscalation"] is False
    tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert {m["mountPath"]: m["name"] for m in app["volumeMounts"]}["/tmp"] in tmp_volumes

    # settings from its ConfigMap; the base never turns on the development sign-in
    assert [e["configMapRef"]["name"] for e in app["envFrom"]] == ["console-config"]
    env = {e["name"]: e for e in app["env"]}
    assert "CONSOLE_DEV_JWT_SECRET" not in env
    ref = env["CONSOLE_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "rescue-console-secrets"
    (config,) = [g for g in generators if g["name"] == "console-config"]
    literals = generator_literals(config)
    for svc in SERVICES:
        assert literals[f"CONSOLE_{svc.upper()}_URL"] == f"http://{svc}", svc
    assert literals["OTEL_SERVICE_NAME"] == CONSOLE
    assert literals["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http")
    assert not [key for key in literals if SECRET_KEY.search(key)]


def test_console_service_hpa_pdb_and_sticky_ingress(base):
    docs, _ = base
    labels = of_kind(docs, "Deployment")[CONSOLE]["spec"]["template"]["metadata"]["labels"]
    service = of_kind(docs, "Service")[CONSOLE]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, "http")]
    hpa = of_kind(docs, "HorizontalPodAutoscaler")[CONSOLE]
    assert hpa["spec"]["scaleTargetRef"]["name"] == CONSOLE
    pdb = of_kind(docs, "PodDisruptionBudget")[CONSOLE]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # sessions live in one pod's memory: the ingress keeps a browser on its pod
    ingress = of_kind(docs, "Ingress")[CONSOLE]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-samesite"] == "Lax"
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"]["name"] == CONSOLE


def test_console_network_policies(base):
    docs, _ = base
    policies = of_kind(docs, "NetworkPolicy").values()
    deployments = of_kind(docs, "Deployment")
    console = deployments[CONSOLE]["spec"]["template"]["metadata"]["labels"]
    intake = deployments["intake"]["spec"]["template"]["metadata"]["labels"]

    def selects(selector, labels):
        return selector.get("matchLabels", {}).items() <= labels.items()

    def of(labels):
        return [
            p
            for p in policies
            if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], labels)
        ]

    # in: only the ingress controller's and monitoring's namespaces, on 8000
    admitted = set()
    for policy in of(console):
        for rule in policy["spec"].get("ingress", []):
            assert {p["port"] for p in rule["ports"]} == {CONTAINER_PORT}
            for peer in rule["from"]:
                assert list(peer) == ["namespaceSelector"], peer
                admitted |= set(peer["namespaceSelector"]["matchLabels"].values())
    assert admitted == {"ingress-nginx", "monitoring"}

    # out: the services, the identity provider, OTLP and DNS
    egress_ports, reaches_services = set(), False
    for policy in of(console):
        for rule in policy["spec"].get("egress", []):
            egress_ports |= {p["port"] for p in rule["ports"]}
            reaches_services |= any(
                selects(peer.get("podSelector", {"matchLabels": {"x": "y"}}), intake)
                for peer in rule["to"]
            )
    assert reaches_services
    assert {CONTAINER_PORT, 8080, 4318, 53} <= egress_ports
    assert not {9092, 5432} & egress_ports, "no broker, no database for the console"

    # and the services let it in
    assert any(
        selects(peer.get("podSelector", {}), console)
        for policy in of(intake)
        for rule in policy["spec"].get("ingress", [])
        for peer in rule["from"]
        if "podSelector" in peer
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_development_sign_in_only_in_dev(overlay):
    kustomization = load_one(K8S / "overlays" / overlay / "kustomization.yaml")
    console_patches = [
        p for p in kustomization.get("patches", []) if p["target"].get("name") == CONSOLE
    ]
    text = "\n".join(p["patch"] for p in console_patches)
    assert ("CONSOLE_DEV_JWT_SECRET" in text) == (overlay == "dev")
