"""The published contract: JSON Schema per event and an AsyncAPI document.

Both are generated from the pydantic contracts and committed under
``libs/events/schemas/``; partners read them, and a test fails when the
committed files drift from the code (``make schemas`` rewrites them).

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


def asyncapi(events: Registry = registry) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in sorted(events.topics.values(), key=lambda t: t.name):
        members = sorted(
            (e for e in events.events.values() if e.topic == topic), key=lambda e: e.key
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
        operations[f"receive_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"Partners and services consume {topic.name}.",
        }
        by_person = topic.key == "person_id"
        for e in members:
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
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Regional rescue network events",
            "version": "1.0.0",
            "description": (
                "Events of the rescue-station network, published as CloudEvents 1.0 in Kafka "
                "binary mode. Every event about a person is keyed by person_id, so one "
                "person's events stay in order within a topic. Contracts are additive-only "
                "within a version; unknown fields must be ignored by readers."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "kafka-bootstrap.rescue.svc:9092",
                "protocol": "kafka",
                "description": "Apache Kafka (KRaft) of the network.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {
                "CloudEventHeaders": _CE_HEADERS,
                "CloudEventHeadersAnySubject": _CE_HEADERS_ANY_SUBJECT,
            },
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
