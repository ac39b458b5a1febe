"""The registry owns every wire name: topics, event types and their versions.

Class names never leak onto the wire. A contract is registered once, with the
owner's type name (``person_admitted``), a version and the topic it travels on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

SCHEMA_URN_PREFIX = "urn:rescue-network:events"


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    description: str
    retention_ms: int | None = None
    # What the record key is: the person, so one person's events stay in order;
    # or, for the audit trail, the service whose hash chain must stay in order.
    key: str = "person_id"
    # Readers outside the network's services (partner systems, the record), if any.
    audience: str | None = None
    # Event types some of the topic's readers skip: they travel with the rest
    # because a reader needs them in order with it (the description says who).
    carried: tuple[str, ...] = ()
    # A retired topic: nothing is staged on it any more; its successors carry its
    # events. Consumers drain it before reading them (rescue_events.consumer).
    successors: tuple[str, ...] = ()

    @property
    def retired(self) -> bool:
        return bool(self.successors)


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    model: type[BaseModel]
    topic: Topic
    summary: str

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    @property
    def dataschema(self) -> str:
        return schema_urn(self.name, self.version)


def schema_urn(name: str, version: int) -> str:
    return f"{SCHEMA_URN_PREFIX}:{name}:v{version}"


def parse_schema_urn(urn: str) -> tuple[str, int]:
    prefix = SCHEMA_URN_PREFIX + ":"
    if not urn.startswith(prefix):
        raise ValueError(f"not a rescue-network schema URN: {urn!r}")
    name, _, version = urn[len(prefix) :].rpartition(":")
    if not name or not version.startswith("v") or not version[1:].isdigit():
        raise ValueError(f"malformed schema URN: {urn!r}")
    return name, int(version[1:])


@dataclass
class Registry:
    topics: dict[str, Topic] = field(default_factory=dict)
    events: dict[tuple[str, int], EventType] = field(default_factory=dict)
    _by_model: dict[type[BaseModel], EventType] = field(default_factory=dict)

    def topic(
        self,
        name: str,
        *,
        partitions: int,
        description: str,
        key: str = "person_id",
        audience: str | None = None,
        carried: tuple[str, ...] = (),
    ) -> Topic:
        return self._add(
            Topic(
                name=name,
                partitions=partitions,
                description=description,
                key=key,
                audience=audience,
                carried=tuple(carried),
            )
        )

    def retire(self, name: str, *, partitions: int, successors: list[Topic]) -> Topic:
        """A topic events no longer travel on; rows staged before the move still
        arrive there until the outbox has sent them."""
        if not successors:
            raise ValueError(f"retired topic {name!r} needs its successors")
        return self._add(
            Topic(
                name=name,
                partitions=partitions,
                description=(
                    "Retired: its events travel on "
                    + ", ".join(t.name for t in successors)
                    + ". Read only to drain what was staged before the move."
                ),
                successors=tuple(t.name for t in successors),
            )
        )

    def _add(self, topic: Topic) -> Topic:
        if topic.name in self.topics:
            raise ValueError(f"topic {topic.name!r} registered twice")
        self.topics[topic.name] = topic
        return topic

    def live_topics(self) -> list[Topic]:
        return sorted((t for t in self.topics.values() if not t.retired), key=lambda t: t.name)

    def retired_before(self, topics: list[Topic]) -> list[Topic]:
        """The retired topics whose events now travel on any of ``topics``: a
        consumer of ``topics`` drains them first."""
        names = {t.name for t in topics}
        return sorted(
            (t for t in self.topics.values() if names & set(t.successors)), key=lambda t: t.name
        )

    def event(self, name: str, version: int, *, topic: Topic, summary: str):
        """Class decorator registering a contract under its wire name and version."""

        def register(model: type[BaseModel]) -> type[BaseModel]:
            event_type = EventType(name, version, model, topic, summary)
            if event_type.key in self.events:
                raise ValueError(f"event {name} v{version} registered twice")
            self.events[event_type.key] = event_type
            self._by_model[model] = event_type
            return model

        return register

    def for_model(self, model: type[BaseModel]) -> EventType:
        try:
            return self._by_model[model]
        except KeyError:
            raise LookupError(f"{model.__name__} is not a registered event contract") from None

    def lookup(self, name: str, version: int) -> EventType | None:
        return self.events.get((name, version))

    def knows_type(self, name: str) -> bool:
        return any(n == name for n, _ in self.events)


def dead_letter_topic_name(consumer: str) -> str:
    return f"rescue.deadletter.{consumer}"


DEAD_LETTER_PARTITIONS = 3

registry = Registry()
