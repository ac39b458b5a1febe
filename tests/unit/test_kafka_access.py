"""Who may do what on the network's Kafka, computed from the manifests, offline.

The KafkaUsers of the rendered overlays (``kubectl kustomize``; the base's files
when kubectl is missing) are evaluated as Kafka's simple authorizer does (literal
and prefix patterns, deny before allow, Read/Write/... implying Describe) over
every declared topic and a few probes, and held to:

- a partner agency reads its own topic ``rescue.partner.agency.<id>`` and nothing
  else (no other agency's, no internal topic), in its own groups only, and writes
  only what it may send;
- each service reads exactly the topics its consumer subscribes to and writes
  exactly what it publishes, as its code says (its ServiceDefinition and handlers).

Each check is also fed a deliberately wrong ACL and must catch it.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
KAFKA_DIR = K8S / "base/kafka"
OVERLAYS = ("dev", "production")
SERVICES = ("intake", "search", "transfer", "referral", "followup", "summary")
AUDIT = "rescue.audit"
ANSWERS = "rescue.partner.answers"
INBOUND_RETURNS = "rescue.inbound.returns"
# Written from outside the network: a service that creates them only reads them.
INBOUND = {ANSWERS, INBOUND_RETURNS}
AGENCY_PREFIX = "rescue.partner.agency."
OPERATIONS = ("Read", "Write", "Create", "Delete", "Alter", "Describe", "AlterConfigs")
# Kafka's implied operations: these allow Describe as well.
IMPLY_DESCRIBE = {"Read", "Write", "Delete", "Alter"}
KUBECTL = shutil.which("kubectl")


def generator():
    spec = importlib.util.spec_from_file_location("partner_users", KAFKA_DIR / "partner_users.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


partner_users = generator()

# ------------------------------------------------------------ the authorizer ---


@dataclass(frozen=True)
class Acl:
    resource: str  # topic, group, cluster, transactionalId
    name: str
    pattern: str  # literal, prefix
    operations: frozenset[str]
    allow: bool = True

    def matches(self, resource: str, name: str) -> bool:
        if resource != self.resource:
            return False
        if self.pattern == "prefix":
            return name.startswith(self.name)
        return self.name in (name, "*")

    def grants(self, operation: str) -> bool:
        ops = self.operations
        return (
            operation in ops
            or "All" in ops
            or (operation == "Describe" and bool(ops & IMPLY_DESCRIBE))
            or (operation == "DescribeConfigs" and "AlterConfigs" in ops)
        )


def acls_of(user: dict[str, Any]) -> list[Acl]:
    return [
        Acl(
            resource=rule["resource"]["type"],
            name=rule["resource"].get("name", "kafka-cluster"),
            pattern=rule["resource"].get("patternType", "literal"),
            operations=frozenset(rule.get("operations") or [rule["operation"]]),
            allow=rule.get("type", "allow") == "allow",
        )
        for rule in user["spec"]["authorization"]["acls"]
    ]


def allowed(acls: list[Acl], resource: str, name: str, operation: str) -> bool:
    """Kafka's simple authorizer: a matching deny wins, else a matching allow."""
    matching = [acl for acl in acls if acl.matches(resource, name) and acl.grants(operation)]
    return any(acl.allow for acl in matching) and not any(not acl.allow for acl in matching)


@dataclass(frozen=True)
class Access:
    reads: frozenset[str]
    writes: frozenset[str]
    describes: frozenset[str]
    manages: frozenset[str]  # Create, Delete, Alter, AlterConfigs: anything of those
    groups: frozenset[str]


def access(acls: list[Acl], topics: set[str], groups: set[str]) -> Access:
    def topics_with(*operations: str) -> frozenset[str]:
        return frozenset(
            t for t in topics if any(allowed(acls, "topic", t, op) for op in operations)
        )

    return Access(
        reads=topics_with("Read"),
        writes=topics_with("Write"),
        describes=topics_with("Describe"),
        manages=topics_with("Create", "Delete", "Alter", "AlterConfigs"),
        groups=frozenset(g for g in groups if allowed(acls, "group", g, "Read")),
    )


# -------------------------------------------------------------- manifests ---


def _load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    """The overlay as applied; without kubectl, the base's Kafka files as written."""
    if KUBECTL is None:
        kustomization = _load(KAFKA_DIR / "kustomization.yaml")[0]
        return tuple(doc for f in kustomization["resources"] for doc in _load(KAFKA_DIR / f))
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


def agencies() -> list[dict[str, Any]]:
    return partner_users.load()


def universe(docs) -> tuple[set[str], set[str]]:
    """Every topic the manifests declare, every agency's topic, and probes: an
    agency nobody listed, a name one listed id is the start of, a new internal
    topic. Groups: the services', and a few of each agency's and of strangers'."""
    topics = {t["spec"].get("topicName", n) for n, t in of_kind(docs, "KafkaTopic").items()}
    ids = [a["id"] for a in agencies()]
    topics |= {partner_users.agency_topic(i) for i in ids}
    topics |= {partner_users.agency_topic(f"{i}-2") for i in ids}
    topics |= {partner_users.agency_topic("unlisted-agency"), "rescue.internal.new"}
    topics |= {f"rescue.deadletter.{svc}" for svc in SERVICES}
    groups = set(SERVICES) | {"unlisted-agency.feed", "feed"}
    for agency_id in ids:
        groups |= {f"{agency_id}.feed", f"{agency_id}-2.feed", agency_id}
    return topics, groups


def users(docs) -> dict[str, dict[str, Any]]:
    return of_kind(docs, "KafkaUser")


# ------------------------------------------------------------ the checks ---


def partner_problems(docs) -> list[str]:
    """Why some agency's login reaches more (or less) than its own feed."""
    topics, groups = universe(docs)
    found = users(docs)
    problems = []
    for agency in agencies():
        agency_id = agency["id"]
        name = partner_users.user_name(agency_id)
        if name not in found:
            problems.append(f"{name}: no KafkaUser")
            continue
        own = partner_users.agency_topic(agency_id)
        sends = {partner_users.SENDS[s] for s in agency.get("sends", ["answers"])}
        got = access(acls_of(found[name]), topics, groups)
        if got.reads != {own}:
            problems.append(f"{name} reads {sorted(got.reads)}, not only {own}")
        if got.writes != sends:
            problems.append(f"{name} writes {sorted(got.writes)}, not {sorted(sends)}")
        if got.describes != {own} | sends:
            problems.append(f"{name} sees {sorted(got.describes - {own} - sends)}")
        if got.manages:
            problems.append(f"{name} may create or alter {sorted(got.manages)}")
        own_groups = {g for g in groups if g.startswith(partner_users.group_prefix(agency_id))}
        if got.groups != own_groups:
            problems.append(f"{name} joins groups {sorted(got.groups)}, not {sorted(own_groups)}")
        for other in agencies():
            if (
                other["id"] != agency_id
                and partner_users.agency_topic(other["id"]) in got.describes
            ):
                problems.append(f"{name} reaches {other['id']}'s topic")
    return problems


def definition_of(svc: str):
    """The service's ServiceDefinition, or None for one that is not in this tree."""
    if importlib.util.find_spec(svc) is None:
        return None
    return importlib.import_module(f"{svc}.app").service


def expected_service_access(svc: str) -> tuple[set[str], set[str], str | None] | None:
    """(reads, writes, agency prefix written) as the service's code has them."""
    import rescue_events.contracts  # noqa: F401  (registers the topics)
    from rescue_events.registry import dead_letter_topic_name, registry

    definition = definition_of(svc)
    if definition is None:
        return None
    reads: set[str] = set()
    writes = {t.name for t in definition.produces} - INBOUND | {AUDIT}
    if definition.handlers is not None:
        # the handlers' contracts name the topics; a stand-in runtime builds them
        handlers = definition.handlers(MagicMock())
        live = {registry.for_model(model).topic for model in handlers}
        # and the retired topics its consumer drains first (issue 30's move)
        reads = {t.name for t in live} | {t.name for t in registry.retired_before(list(live))}
        writes.add(dead_letter_topic_name(svc))
    created_only = {t.name for t in definition.produces} & INBOUND
    assert created_only <= reads, (
        f"{svc} creates {created_only - reads} it neither reads nor writes"
    )
    # the service with the deliveries publishes every agency's feed on its own topic
    agency_prefix = AGENCY_PREFIX if importlib.util.find_spec(f"{svc}.deliveries") else None
    return reads, writes, agency_prefix


def service_problems(docs, svc: str) -> list[str]:
    """How the service's login differs from what its code reads and writes."""
    expected = expected_service_access(svc)
    name = f"service-{svc}"
    found = users(docs)
    if name not in found:
        return [f"{name}: no KafkaUser"]
    topics, groups = universe(docs)
    got = access(acls_of(found[name]), topics, groups)
    problems = []
    if expected is not None:
        reads, writes, agency_prefix = expected
        agency_topics = {t for t in topics if agency_prefix and t.startswith(agency_prefix)}
        if got.reads != reads:
            problems.append(f"{name} reads {sorted(got.reads)}, its code {sorted(reads)}")
        if got.writes != writes | agency_topics:
            problems.append(
                f"{name} writes {sorted(got.writes)}, its code {sorted(writes | agency_topics)}"
            )
        if got.manages != agency_topics:
            problems.append(f"{name} may create or alter {sorted(got.manages - agency_topics)}")
    if got.describes != got.reads | got.writes:
        problems.append(f"{name} sees {sorted(got.describes - got.reads - got.writes)}")
    if got.groups != {svc}:
        problems.append(f"{name} joins groups {sorted(got.groups)}, not [{svc}]")
    readable_agency = {t for t in got.reads if t.startswith(AGENCY_PREFIX)}
    if readable_agency:
        problems.append(f"{name} reads agencies' topics {sorted(readable_agency)}")
    return problems


# ------------------------------------------------------------- the tests ---


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_and_listed_agency_has_exactly_one_login(overlay):
    found = users(rendered(overlay))
    expected = {f"service-{svc}" for svc in SERVICES}
    expected |= {partner_users.user_name(a["id"]) for a in agencies()}
    assert set(found) == expected
    for name, user in found.items():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "rescue", name
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}, name
        assert user["spec"]["authorization"]["type"] == "simple", name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_partner_reads_only_its_own_agency_topic(overlay):
    docs = rendered(overlay)
    assert partner_problems(docs) == []
    # and, spelled out for the two example agencies: never the other's feed
    topics, groups = universe(docs)
    police, federation = "gushi-police", "womens-federation-411525"
    assert {police, federation} <= {a["id"] for a in agencies()}
    for reader, other in ((police, federation), (federation, police)):
        got = access(acls_of(users(docs)[f"agency-{reader}"]), topics, groups)
        assert f"rescue.partner.agency.{reader}" in got.reads
        assert f"rescue.partner.agency.{other}" not in got.describes
        assert not got.reads & {"rescue.intake.events", "rescue.partner.police", AUDIT}
        assert f"{other}.feed" not in got.groups


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("svc", SERVICES)
def test_a_service_reads_what_it_consumes_and_writes_what_it_produces(overlay, svc):
    assert service_problems(rendered(overlay), svc) == []


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed: cannot render the overlays")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_a_deployed_service_needs_is_declared(overlay):
    # no service may create a topic (but referral an agency's): a missing one stops it
    docs = rendered(overlay)
    declared = {t["spec"].get("topicName", n) for n, t in of_kind(docs, "KafkaTopic").items()}
    for svc in SERVICES:
        expected = expected_service_access(svc)
        if svc not in of_kind(docs, "Deployment") or expected is None:
            continue
        reads, writes, _ = expected
        assert reads | writes <= declared, (svc, sorted(reads | writes - declared))


def test_the_services_code_is_what_the_logins_were_written_for():
    # the reading of the code the ACL check relies on, on known subscriptions
    reads, writes, _ = expected_service_access("intake")
    assert reads == {
        "rescue.search.identity",
        "rescue.search.refusal_faces",
        "rescue.transfer.handovers",
        "rescue.search.events",  # retired: drained first
        "rescue.transfer.events",
    }
    assert writes == {
        "rescue.intake.stays",
        "rescue.intake.refusals",
        "rescue.intake.incidents",
        "rescue.intake.counted",
        "rescue.intake.records",
        "rescue.intake.events",  # retired: rows staged before the move
        AUDIT,
        "rescue.deadletter.intake",
    }
    reads, writes, _ = expected_service_access("search")
    assert ANSWERS in reads and ANSWERS not in writes


def _with_acl(docs, user: str, change) -> tuple[dict[str, Any], ...]:
    docs = copy.deepcopy(list(docs))
    (target,) = [d for d in docs if d["kind"] == "KafkaUser" and d["metadata"]["name"] == user]
    change(target["spec"]["authorization"]["acls"])
    return tuple(docs)


def _resource(kind: str, name: str, pattern: str, *operations: str) -> dict[str, Any]:
    return {
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": list(operations),
    }


@pytest.mark.parametrize(
    ("user", "change", "mentions"),
    [
        # every agency's feed instead of its own
        (
            "agency-gushi-police",
            lambda acls: acls.append(_resource("topic", AGENCY_PREFIX, "prefix", "Read")),
            "reaches womens-federation-411525's topic",
        ),
        # a prefix without the final ".": also the feed of an agency "gushi-police-2"
        (
            "agency-gushi-police",
            lambda acls: acls.__setitem__(
                0, _resource("topic", AGENCY_PREFIX + "gushi-police", "prefix", "Read")
            ),
            "rescue.partner.agency.gushi-police-2",
        ),
        # a group prefix without the "." joins groups of "gushi-police-2"
        (
            "agency-gushi-police",
            lambda acls: acls.__setitem__(1, _resource("group", "gushi-police", "prefix", "Read")),
            "joins groups",
        ),
        # All on its own topic: the agency could write fake referrals to itself
        (
            "agency-womens-federation-411525",
            lambda acls: acls[0].update(operations=["All"]),
            "writes",
        ),
        # an internal topic
        (
            "agency-womens-federation-411525",
            lambda acls: acls.append(
                _resource("topic", "rescue.intake.events", "literal", "Read", "Describe")
            ),
            "rescue.intake.events",
        ),
    ],
    ids=["all-agencies", "prefix-without-dot", "group-without-dot", "all-operations", "internal"],
)
def test_a_wrong_partner_acl_is_caught(user, change, mentions):
    docs = rendered("production")
    problems = partner_problems(_with_acl(docs, user, change))
    assert problems, "the wrong ACL passed"
    assert any(mentions in p for p in problems), problems


@pytest.mark.parametrize(
    ("svc", "change", "mentions"),
    [
        # intake reading a topic it does not consume
        (
            "intake",
            lambda acls: acls.append(
                _resource("topic", "rescue.referral.events", "literal", "Read")
            ),
            "reads",
        ),
        # transfer losing its own topic
        ("transfer", lambda acls: acls.pop(0), "writes"),
        # search reading every partner topic, agencies' included
        (
            "search",
            lambda acls: acls.append(_resource("topic", "rescue.partner.", "prefix", "Read")),
            "reads",
        ),
        # followup in another service's group (it would steal intake's partitions)
        (
            "followup",
            lambda acls: acls.append(_resource("group", "intake", "literal", "Read")),
            "joins groups",
        ),
        # a deny wins over the allow
        (
            "intake",
            lambda acls: acls.append(
                {**_resource("topic", "rescue.intake.events", "literal", "Write"), "type": "deny"}
            ),
            "writes",
        ),
    ],
    ids=["extra-read", "missing-write", "partner-prefix", "foreign-group", "deny-wins"],
)
def test_a_wrong_service_acl_is_caught(svc, change, mentions):
    docs = rendered("production")
    problems = service_problems(_with_acl(docs, f"service-{svc}", change), svc)
    assert problems, "the wrong ACL passed"
    assert any(mentions in p for p in problems), problems


# ------------------------------------------------ cluster, wiring, clients ---


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed: cannot render the overlays")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_listener_is_tls_with_a_login_and_acls_apply(overlay):
    (kafka,) = of_kind(rendered(overlay), "Kafka").values()
    spec = kafka["spec"]
    assert spec["kafka"]["authorization"] == {"type": "simple"}  # no super users
    assert "userOperator" in spec["entityOperator"]
    listeners = {ln["name"]: ln for ln in spec["kafka"]["listeners"]}
    assert set(listeners) == {"tls", "external"}
    for listener in listeners.values():
        assert listener["tls"] is True
        assert listener["authentication"] == {"type": "scram-sha-512"}
    assert listeners["tls"]["type"] == "internal"
    assert listeners["tls"]["networkPolicyPeers"]  # only the services' pods
    external = "nodeport" if overlay == "dev" else "loadbalancer"
    assert listeners["external"]["type"] == external


def test_the_asyncapi_servers_name_the_listeners():
    from rescue_events import schemas

    (kafka,) = of_kind(rendered("production"), "Kafka").values()
    listeners = {ln["name"]: ln for ln in kafka["spec"]["kafka"]["listeners"]}
    external = listeners["external"]
    host = external["configuration"]["bootstrap"]["alternativeNames"][0]
    document = schemas.asyncapi()
    partners = document["servers"]["partners"]
    assert partners["host"] == f"{host}:{external['port']}"
    assert partners["protocol"] == "kafka-secure"
    scheme = partners["security"][0]["$ref"].rsplit("/", 1)[-1]
    assert document["components"]["securitySchemes"][scheme]["type"] == "scramSha512"
    description = partners["description"]
    for words in ("SASL_SSL", "SCRAM-SHA-512", AGENCY_PREFIX + "{agency_id}", "<agency_id>."):
        assert words in description
    services = document["servers"]["services"]
    assert services["host"] == f"rescue-kafka-bootstrap.rescue.svc:{listeners['tls']['port']}"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed: cannot render the overlays")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_logs_in_as_its_own_user(overlay):
    docs = rendered(overlay)
    config_maps = of_kind(docs, "ConfigMap")
    found = users(docs)
    deployments = of_kind(docs, "Deployment")
    for svc in SERVICES:
        if svc not in deployments:  # not deployed (yet): test_deploy_manifests' concern
            continue
        p = svc.upper() + "_"
        pod = deployments[svc]["spec"]["template"]["spec"]
        (app,) = [c for c in pod["containers"] if c["name"] == svc]
        (ref,) = app["envFrom"]
        data = config_maps[ref["configMapRef"]["name"]]["data"]
        assert data[f"{p}KAFKA_BOOTSTRAP_SERVERS"] == "rescue-kafka-bootstrap:9093"
        assert data[f"{p}KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert data[f"{p}KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        username = data[f"{p}KAFKA_SASL_USERNAME"]
        assert username == f"service-{svc}" and username in found
        for container in pod["containers"] + pod.get("initContainers", []):
            env = {e["name"]: e for e in container.get("env", [])}
            secret = env[f"{p}KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert secret == {"name": username, "key": "password"}  # Strimzi's Secret
        ca_file = Path(data[f"{p}KAFKA_SSL_CAFILE"])
        mounts = {m["mountPath"]: m["name"] for m in app["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        ca = volumes[mounts[str(ca_file.parent)]]["secret"]
        assert ca["secretName"] == "rescue-cluster-ca-cert"
        assert {"key": "ca.crt", "path": ca_file.name} in ca["items"]


def test_the_agency_topic_is_the_one_referral_delivers_on():
    from rescue_events import schemas
    from rescue_events.contracts import topics

    assert partner_users.AGENCY_TOPIC_PREFIX == topics.AGENCY_TOPIC_PREFIX == AGENCY_PREFIX
    assert schemas.AGENCY_TOPIC == topics.AGENCY_TOPIC


def test_the_generated_partner_users_match_the_list():
    committed = (KAFKA_DIR / "partner-users.yaml").read_text(encoding="utf-8")
    assert committed == partner_users.render(agencies()), "run partner_users.py"
    assert partner_users.main(["partner_users.py", "--check"]) == 0


@pytest.mark.parametrize(
    ("entry", "mentions"),
    [
        ({"id": "Gushi-Police", "name": "x", "partner_type": "police"}, ".id"),
        ({"id": "gushi.police", "name": "x", "partner_type": "police"}, ".id"),
        ({"id": "gushi-police", "name": "x", "partner_type": "police"}, "listed twice"),
        ({"id": "a-b", "name": "", "partner_type": "police"}, ".name"),
        ({"id": "a-b", "name": "x", "partner_type": "army"}, ".partner_type"),
        (
            {"id": "a-b", "name": "x", "partner_type": "police", "sends": ["return_notices"]},
            "only for rescue_station",
        ),
        ({"id": "a-b", "name": "x", "partner_type": "police", "sends": ["referrals"]}, ".sends"),
        ({"id": "a-b", "name": "x", "partner_type": "police", "topic": "t"}, "unknown keys"),
    ],
    ids=["upper", "dot", "twice", "no-name", "type", "notices", "sends", "unknown"],
)
def test_a_bad_agency_entry_is_refused(entry, mentions):
    problems = partner_users.check([*agencies(), entry])
    assert any(mentions in p for p in problems), problems
    assert partner_users.check(agencies()) == []


def test_another_regions_station_may_send_return_notices():
    station = {
        "id": "wuhan-station",
        "name": "武汉市救助管理站",
        "partner_type": "rescue_station",
        "sends": ["answers", "return_notices"],
    }
    assert partner_users.check([station]) == []
    user = partner_users.kafka_user(station)
    topics = {"rescue.partner.agency.wuhan-station", ANSWERS, INBOUND_RETURNS, AUDIT}
    got = access(acls_of(user), topics, {"wuhan-station.feed"})
    assert got.writes == {ANSWERS, INBOUND_RETURNS}
    assert got.reads == {"rescue.partner.agency.wuhan-station"}


def test_kafka_clients_stay_plaintext_unless_configured():
    from rescue_events.kafka import KafkaSettings

    assert KafkaSettings(bootstrap_servers="kafka:9092", client_id="intake").client_options() == {}
    options = KafkaSettings(
        bootstrap_servers="rescue-kafka-bootstrap:9093",
        client_id="intake",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="service-intake",
        sasl_password="s3cret",
    ).client_options()
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "service-intake",
        "sasl_plain_password": "s3cret",
    }
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with pytest.raises(ValueError, match="sasl_password"):
        KafkaSettings(
            bootstrap_servers="b:9093",
            client_id="intake",
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="service-intake",
        )
    with pytest.raises(ValueError, match="sasl_mechanism"):
        KafkaSettings(bootstrap_servers="b:9093", client_id="intake", security_protocol="SASL_SSL")


def test_service_settings_want_the_whole_login():
    from pydantic import ValidationError

    from rescue_chassis.settings import ServiceSettings

    base = {
        "database_url": "postgresql+asyncpg://intake:pw@db:5432/intake",
        "kafka_bootstrap_servers": "rescue-kafka-bootstrap:9093",
        "jwt_secret": "x" * 40,
    }
    assert ServiceSettings(**base).kafka_security_protocol == "PLAINTEXT"
    login = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "service-intake",
    }
    with pytest.raises(ValidationError, match="kafka_sasl_password"):
        ServiceSettings(**base, **login)
    settings = ServiceSettings(**base, **login, kafka_sasl_password="s3cret")
    assert settings.kafka_sasl_password.get_secret_value() == "s3cret"
    with pytest.raises(ValidationError, match="kafka_security_protocol"):
        ServiceSettings(**base, kafka_security_protocol="TLS")


async def test_every_kafka_client_takes_the_login():
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient

    from rescue_events.kafka import KafkaSettings

    kafka = KafkaSettings(
        bootstrap_servers="rescue-kafka-bootstrap:9093",
        client_id="referral",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="service-referral",
        sasl_password="s3cret",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, **kafka.client_options())
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, **kafka.client_options())
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, **kafka.client_options())
    try:
        for client in (producer.client, consumer._client, admin._client):
            assert client._security_protocol == "SASL_SSL"
            assert client._sasl_mechanism == "SCRAM-SHA-512"
            assert client._sasl_plain_username == "service-referral"
            assert client._ssl_context.check_hostname
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()
