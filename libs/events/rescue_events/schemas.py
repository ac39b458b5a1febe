"""The published contract: JSON Schema per event and an AsyncAPI document.

Both are generated from the pydantic contracts and committed under
``libs/events/schemas/``; partners read them, and a test fails when the
committed files drift from the code (``make schemas`` rewrites them). What was
released stays under ``contracts/released/``: ``rescue_events.compat`` fails a
change that breaks it (``make contracts-check``).

    python -m rescue_events.schemas write   # regenerate
    python -m rescue_events.schemas check   # exit 1 on drift
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

import rescue_events.contracts  # noqa: F401  (registers every contract)
from rescue_events.compat import CONTRACTS_VERSION
from rescue_events.contracts.topics import PARTNER_TOPICS
from rescue_events.registry import Registry, registry

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
ASYNCAPI_FILE = "asyncapi.yaml"

_CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary mode, plus W3C trace context.",
    "required": [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "ce_dataschema",
        "content-type",
    ],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique per event; consumers dedupe on it."},
        "ce_source": {"type": "string", "examples": ["/rescue-network/intake"]},
        "ce_type": {"type": "string", "description": "The event type, e.g. person_admitted."},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "format": "uuid", "description": "The person_id."},
        "ce_dataschema": {"type": "string", "description": "URN naming type and version."},
        "content-type": {"const": "application/json"},
        "ce_correlationid": {"type": "string", "description": "The case-wide correlation id."},
        "ce_causationid": {"type": "string", "description": "The event that caused this one."},
        "ce_stationid": {"type": "string", "description": "The station the event concerns."},
        "traceparent": {"type": "string", "description": "W3C trace context."},
        "tracestate": {"type": "string"},
        "rescue_sequence": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": (
                "The event's position in its producer's outbox: a reader of several of "
                "one producer's topics restores the order it wrote them in (one "
                "transaction's events can go to several topics)."
            ),
        },
    },
}


# Topics not keyed by person (the audit trail): ce_subject names the person only
# when the event concerns one.
_CE_HEADERS_ANY_SUBJECT: dict[str, Any] = {
    **_CE_HEADERS,
    "required": [h for h in _CE_HEADERS["required"] if h != "ce_subject"],
    "properties": {
        **_CE_HEADERS["properties"],
        "ce_subject": {
            "type": "string",
            "format": "uuid",
            "description": "The person_id, when the event concerns one person.",
        },
    },
}


# Where to connect (deploy/k8s/base/kafka/kafka.yaml): TLS and a SCRAM login on
# both listeners; the host of the partners' one is the deployment's placeholder.
PARTNER_BOOTSTRAP = "kafka.rescue.example.org:9094"
SERVICE_BOOTSTRAP = "rescue-kafka-bootstrap.rescue.svc:9093"
AGENCY_TOPIC = "rescue.partner.agency.{agency_id}"
_HOW_A_PARTNER_CONNECTS = f"""\
The listener for partner agencies, outside the network's cluster: TLS, with a SCRAM-SHA-512
login per agency. Its ACLs let an agency read one topic only, its own, and write its answers.

How a partner connects:

- Bootstrap: `{PARTNER_BOOTSTRAP}` (the host is the deployment's; the network tells each
  agency its real one).
- TLS: verify the brokers against the network's CA certificate (`ca.crt`, handed over with
  the login) unless the deployment uses a certificate of a public CA.
- Login: `security.protocol=SASL_SSL`, `sasl.mechanism=SCRAM-SHA-512`, username
  `agency-<agency_id>` and its password (handed over out of band).
- Read: the topic `{AGENCY_TOPIC}` only (the agency_id of the partner directory and of
  the agency's API tokens), with `group.id` starting `<agency_id>.` (e.g.
  `<agency_id>.feed`); `auto.offset.reset=earliest`, commit after processing. Every other
  topic, and every other group, is refused (TOPIC/GROUP_AUTHORIZATION_FAILED).
- Write: answers on `rescue.partner.answers` (another region's station also sends its
  return notices on `rescue.inbound.returns`). Nothing else.

Example, with kcat (librdkafka's settings):

```
kcat -b {PARTNER_BOOTSTRAP} -X security.protocol=SASL_SSL \\
  -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=agency-<agency_id> \\
  -X sasl.password=<password> -X ssl.ca.location=ca.crt \\
  -G <agency_id>.feed rescue.partner.agency.<agency_id>
```"""
SERVERS: dict[str, Any] = {
    "partners": {
        "host": PARTNER_BOOTSTRAP,
        "protocol": "kafka-secure",
        "protocolVersion": "3.9",
        "title": "Partner agencies' listener",
        "description": _HOW_A_PARTNER_CONNECTS,
        "security": [{"$ref": "#/components/securitySchemes/scramSha512"}],
    },
    "services": {
        "host": SERVICE_BOOTSTRAP,
        "protocol": "kafka-secure",
        "protocolVersion": "3.9",
        "title": "The network's services' listener (inside the cluster)",
        "description": (
            "TLS with a SCRAM-SHA-512 login per service (KafkaUser service-<name>), whose "
            "ACLs allow the topics the service writes and reads, in its own consumer group."
        ),
        "security": [{"$ref": "#/components/securitySchemes/scramSha512"}],
    },
}
SECURITY_SCHEMES: dict[str, Any] = {
    "scramSha512": {
        "type": "scramSha512",
        "description": (
            "SASL/SCRAM-SHA-512 over TLS: one login per agency (agency-<agency_id>) or "
            "service (service-<name>), made by the network's operators."
        ),
    }
}


_PARTNER_TYPE_TOPICS = {t.name for t in PARTNER_TOPICS.values()}
_AGENCY_PARTITIONS = 3  # the outbox relay's partitions of a topic it creates


def schema_file_name(name: str, version: int) -> str:
    return f"{name}.v{version}.json"


def json_schemas(events: Registry = registry) -> dict[str, dict[str, Any]]:
    out = {}
    for event_type in sorted(events.events.values(), key=lambda e: e.key):
        schema = event_type.model.model_json_schema(mode="serialization")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": event_type.dataschema,
            **schema,
            "title": f"{event_type.name} v{event_type.version}",
            "description": event_type.summary,
        }
        out[schema_file_name(event_type.name, event_type.version)] = schema
    return out


def event_topics(events: Registry = registry) -> dict[str, str]:
    """Schema file name -> the topic the event travels on."""
    return {schema_file_name(e.name, e.version): e.topic.name for e in events.events.values()}


def retired_topics(events: Registry = registry) -> dict[str, tuple[str, ...]]:
    """Retired topic -> the topics its events travel on now."""
    return {t.name: t.successors for t in events.topics.values() if t.retired}


def asyncapi(events: Registry = registry) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in sorted(events.topics.values(), key=lambda t: t.name):
        # a retired topic still carries what was staged for it before the move
        on_it = set(topic.successors) if topic.retired else {topic.name}
        members = sorted(
            (e for e in events.events.values() if e.topic.name in on_it), key=lambda e: e.key
        )
        channel_id = topic.name.replace(".", "_")
        channels[channel_id] = {
            "address": topic.name,
            "description": f"{topic.description} Key: {topic.key}. Partitions: {topic.partitions}.",
            "messages": {
                f"{e.name}_v{e.version}": {"$ref": f"#/components/messages/{e.name}_v{e.version}"}
                for e in members
            },
            "bindings": {"kafka": {"topic": topic.name, "partitions": topic.partitions}},
        }
        if topic.retired:
            channels[channel_id]["x-retired"] = {"successors": list(topic.successors)}
        if topic.audience:
            channels[channel_id]["x-audience"] = topic.audience
        if topic.carried:
            channels[channel_id]["x-carried-for-order"] = list(topic.carried)
        operations[f"receive_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": (
                f"Consumers of its successors drain {topic.name} before reading them."
                if topic.retired
                else f"Partners and services consume {topic.name}."
            ),
        }
        by_person = topic.key == "person_id"
        for e in members if not topic.retired else ():
            messages[f"{e.name}_v{e.version}"] = {
                "name": e.name,
                "title": f"{e.name} v{e.version}",
                "summary": e.summary,
                "contentType": "application/json",
                "headers": {
                    "$ref": "#/components/schemas/"
                    + ("CloudEventHeaders" if by_person else "CloudEventHeadersAnySubject")
                },
                "payload": {"$ref": f"./{schema_file_name(e.name, e.version)}"},
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "format": "uuid"}
                        if by_person
                        else {"type": "string", "description": f"The {topic.key}."}
                    }
                },
            }
    # Each agency's own topic (referral's deliveries): its type's messages, for it alone.
    delivered = sorted(
        (e for e in events.events.values() if e.topic.name in _PARTNER_TYPE_TOPICS),
        key=lambda e: e.key,
    )
    channels["rescue_partner_agency"] = {
        "address": AGENCY_TOPIC,
        "title": "A partner agency's own topic",
        "description": (
            "Every message to one partner agency, and only its own: its type's contracts "
            "(referrals, police checks and DNA samples, the bureau's incidents and "
            "escalations, return notices to other regions). Created at the agency's first "
            f"message, {_AGENCY_PARTITIONS} partitions, key: person_id. The same message is "
            "posted to the agency's webhook, if it has one, and served on referral's pull "
            "feed (GET /partner/feed)."
        ),
        "parameters": {
            "agency_id": {
                "description": "The agency's id in the partner directory (its tokens' station_id)."
            }
        },
        "messages": {
            f"{e.name}_v{e.version}": {"$ref": f"#/components/messages/{e.name}_v{e.version}"}
            for e in delivered
        },
    }
    operations["receive_rescue_partner_agency"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/rescue_partner_agency"},
        "summary": "A partner agency consumes its own topic.",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Regional rescue network events",
            "version": CONTRACTS_VERSION,
            "description": (
                "Events of the rescue-station network, published as CloudEvents 1.0 in Kafka "
                "binary mode. Every event about a person is keyed by person_id, so one "
                "person's events stay in order within a topic. Contracts are additive-only "
                "within a version; unknown fields must be ignored by readers."
            ),
        },
        "defaultContentType": "application/json",
        "servers": SERVERS,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {
                "CloudEventHeaders": _CE_HEADERS,
                "CloudEventHeadersAnySubject": _CE_HEADERS_ANY_SUBJECT,
            },
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def rendered(events: Registry = registry) -> dict[str, str]:
    """File name -> exact file content, as committed."""
    files = {
        name: json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
        for name, schema in json_schemas(events).items()
    }
    files[ASYNCAPI_FILE] = yaml.safe_dump(asyncapi(events), sort_keys=False, allow_unicode=True)
    return files


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Human-readable differences between the code and the committed files."""
    expected = rendered()
    problems = []
    for name, content in expected.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"{name}: differs from the contract in code")
    for path in sorted(directory.glob("*")):
        if path.name not in expected:
            problems.append(f"{path.name}: no contract in code produces it")
    return problems


def write(directory: Path = SCHEMA_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    expected = rendered()
    for path in directory.glob("*"):
        if path.name not in expected:
            path.unlink()
    for name, content in expected.items():
        (directory / name).write_text(content, encoding="utf-8")


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "write":
        write()
        print(f"wrote {len(rendered())} files to {SCHEMA_DIR}")
        return 0
    if command == "check":
        problems = drift()
        for problem in problems:
            print(problem)
        if problems:
            print("schemas drifted from the contracts: run `make schemas` and commit")
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
