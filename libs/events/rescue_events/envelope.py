"""CloudEvents 1.0 in Kafka binary mode: attributes in ``ce_*`` headers, the
event's JSON in the record value, ``person_id`` as the record key.

Follows the CloudEvents Kafka protocol binding, so partner systems (police,
women's federation) can read the network's events with any CloudEvents SDK.
``datacontenttype`` maps to the ``content-type`` header, extensions to
``ce_<name>``; W3C trace context travels in ``traceparent``/``tracestate``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"

# Header names of the attributes this network sets on every event.
_REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type")
_EXTENSIONS = {
    "correlation_id": "ce_correlationid",
    "causation_id": "ce_causationid",
    "station_id": "ce_stationid",
}
TRACE_HEADERS = ("traceparent", "tracestate")


class MalformedEnvelope(ValueError):
    """The record is not a CloudEvent this network can read."""


@dataclass(frozen=True)
class Envelope:
    type: str
    source: str
    subject: str
    dataschema: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str | None = None
    causation_id: str | None = None
    station_id: str | None = None
    specversion: str = SPECVERSION
    datacontenttype: str = CONTENT_TYPE

    def to_headers(self) -> list[tuple[str, str]]:
        headers = [
            ("ce_specversion", self.specversion),
            ("ce_id", self.id),
            ("ce_source", self.source),
            ("ce_type", self.type),
            ("ce_time", self.time.astimezone(UTC).isoformat().replace("+00:00", "Z")),
            ("ce_subject", self.subject),
            ("ce_dataschema", self.dataschema),
            ("content-type", self.datacontenttype),
        ]
        for attribute, header in _EXTENSIONS.items():
            value = getattr(self, attribute)
            if value is not None:
                headers.append((header, value))
        return headers

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, bytes | str]]) -> Envelope:
        found = _decode(headers)
        missing = [name for name in _REQUIRED if not found.get(name)]
        if missing:
            raise MalformedEnvelope(f"missing CloudEvents headers: {', '.join(missing)}")
        if found["ce_specversion"] != SPECVERSION:
            raise MalformedEnvelope(f"unsupported specversion {found['ce_specversion']!r}")
        if not found.get("ce_dataschema"):
            raise MalformedEnvelope("missing ce_dataschema: the event's version is unknown")
        content_type = found.get("content-type", CONTENT_TYPE)
        if content_type.split(";")[0].strip() != CONTENT_TYPE:
            raise MalformedEnvelope(f"unsupported content-type {content_type!r}")
        try:
            time = datetime.fromisoformat(found["ce_time"]) if found.get("ce_time") else None
        except ValueError as exc:
            raise MalformedEnvelope(f"ce_time is not RFC 3339: {found['ce_time']!r}") from exc
        if time is not None and time.tzinfo is None:
            raise MalformedEnvelope("ce_time has no UTC offset")
        return cls(
            id=found["ce_id"],
            source=found["ce_source"],
            type=found["ce_type"],
            subject=found.get("ce_subject", ""),
            dataschema=found["ce_dataschema"],
            time=time or datetime.now(UTC),
            correlation_id=found.get("ce_correlationid"),
            causation_id=found.get("ce_causationid"),
            station_id=found.get("ce_stationid"),
            specversion=found["ce_specversion"],
            datacontenttype=content_type,
        )


def trace_carrier(headers: Iterable[tuple[str, bytes | str]]) -> dict[str, str]:
    """The W3C trace-context headers of a record, for an OpenTelemetry propagator."""
    found = _decode(headers)
    return {name: found[name] for name in TRACE_HEADERS if name in found}


def _decode(headers: Iterable[tuple[str, bytes | str]] | Mapping[str, str]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    decoded: dict[str, str] = {}
    for name, value in items:
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedEnvelope(f"header {name!r} is not UTF-8") from exc
        decoded[name] = value
    return decoded
