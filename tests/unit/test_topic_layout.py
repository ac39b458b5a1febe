"""The topic layout (issue 30): each consumer receives only the event types it
handles, every event has a reader or a declared audience, and the first layout's
topics are retired with their successors (computed from the registry and the
services' handler maps)."""

from __future__ import annotations

import importlib
from collections import defaultdict
from unittest.mock import MagicMock

import pytest

from rescue_events import compat, schemas
from rescue_events.contracts import topics
from rescue_events.registry import registry

SERVICES = ("intake", "search", "transfer", "referral", "followup", "summary")

# The audit trail's topic belongs to the audit work (its anchors and their reader).
OUTSIDE_THIS_LAYOUT = {topics.AUDIT_EVENTS.name}

# What search applies in order after a person's admission (a photo before the
# case would find no case): on one topic with person_admitted.
SEARCH_IN_ORDER = {
    "person_admitted",
    "hospital_placement_made",
    "long_stay_reached",
    "long_hospital_stay_reached",
    "person_discharged",
    "burial_recorded",
    "photo_shared_for_search",
}


def handled() -> dict[str, set[str]]:
    """Service -> the event types its consumer has a handler for."""
    found = {}
    for service in SERVICES:
        # the service's whole map, as its consumer gets it (a stand-in runtime builds it)
        handlers = importlib.import_module(f"{service}.app").service.handlers(MagicMock())
        found[service] = {registry.for_model(model).name for model in handlers}
    return found


def readers() -> dict[str, set[str]]:
    """Event type -> the services that handle it."""
    by_type = defaultdict(set)
    for service, names in handled().items():
        for name in names:
            by_type[name].add(service)
    return by_type


def skipped(
    handled_by: dict[str, set[str]],
) -> list[tuple[str, str, str]]:
    """(service, topic, event type) a service would receive and has no handler for,
    and the topic does not declare as carried."""
    on_topic = defaultdict(set)
    for event in registry.events.values():
        on_topic[event.topic.name].add(event.name)
    found = []
    for service, names in sorted(handled_by.items()):
        reads = {registry.events[k].topic.name for k in registry.events if k[0] in names}
        for topic in sorted(reads - OUTSIDE_THIS_LAYOUT):
            carried = set(registry.topics[topic].carried)
            for name in sorted(on_topic[topic] - names - carried):
                found.append((service, topic, name))
    return found


def test_no_consumer_receives_an_event_type_it_does_not_handle():
    assert skipped(handled()) == []


def test_the_check_catches_an_event_on_the_wrong_topic():
    handled_by = handled()
    # transfer reads the identity topic for identity_confirmed; earlier stays are followup's
    handled_by["followup"].discard("earlier_stay_recognised")
    handled_by["followup"].add("search_case_opened")
    assert ("followup", "rescue.search.counted", "dna_hit_reverified") in skipped(handled_by)


def test_what_a_topic_carries_for_order_a_reader_of_it_needs():
    by_type = readers()
    for topic in registry.topics.values():
        for name in topic.carried:
            on_it = {e.name for e in registry.events.values() if e.topic == topic}
            assert name in on_it, (topic.name, name)
            if topic.audience is None:  # the network's own: carried for a reader
                assert by_type[name], (topic.name, name)


def test_search_reads_a_stay_in_order_on_one_topic():
    assert {registry.lookup(name, 1).topic.name for name in SEARCH_IN_ORDER} == {
        topics.INTAKE_STAYS.name
    }
    assert set(topics.INTAKE_STAYS.carried) == SEARCH_IN_ORDER - {"person_admitted"}


def test_an_admission_is_delivered_only_where_it_is_handled():
    by_type = readers()
    admitted = registry.lookup("person_admitted", 1).topic
    assert by_type["person_admitted"] == {"search", "transfer", "referral", "followup", "summary"}
    # search matches a new case in the transaction that opens it: no self-delivery
    opened = registry.lookup("search_case_opened", 1).topic
    readers_of_opened = {s for s, names in handled().items() if opened.name in _reads(names)}
    assert readers_of_opened == {"summary"}
    assert admitted.key == "person_id" and not admitted.retired


def _reads(names: set[str]) -> set[str]:
    return {e.topic.name for e in registry.events.values() if e.name in names}


def test_every_event_type_has_a_reader_or_a_declared_audience():
    by_type = readers()
    unread = sorted(
        e.name
        for e in registry.events.values()
        if not by_type[e.name]
        and e.topic.audience is None
        and e.topic.name not in OUTSIDE_THIS_LAYOUT
    )
    assert unread == []


def test_each_live_topic_names_its_readers_and_is_read_by_them_only():
    read_by = defaultdict(set)
    for service, names in handled().items():
        for topic in _reads(names):
            read_by[topic].add(service)
    for topic in registry.live_topics():
        if topic.name in OUTSIDE_THIS_LAYOUT:
            continue
        for service in read_by[topic.name]:
            assert service in topic.description, (topic.name, service)
        if not read_by[topic.name]:
            assert topic.audience, topic.name


def test_no_event_travels_on_a_retired_topic_and_every_successor_is_live():
    retired = [t for t in registry.topics.values() if t.retired]
    assert {t.name for t in retired} == {
        "rescue.intake.events",
        "rescue.search.events",
        "rescue.transfer.events",
        "rescue.referral.events",
        "rescue.followup.events",
    }
    assert not any(e.topic.retired for e in registry.events.values())
    for topic in retired:
        for successor in topic.successors:
            assert not registry.topics[successor].retired


def test_every_moved_event_left_a_retired_topic_naming_where_it_went():
    released = compat.last_release()
    now = schemas.event_topics()
    for name, was in released.topics.items():
        if name in now and now[name] != was:
            assert now[name] in registry.topics[was].successors, (name, was, now[name])


def test_a_consumer_drains_the_retired_topics_its_events_came_from():
    intake = importlib.import_module("intake.app").service.handlers(MagicMock())
    reads = sorted({registry.for_model(m).topic for m in intake}, key=lambda t: t.name)
    assert [t.name for t in registry.retired_before(reads)] == [
        "rescue.search.events",
        "rescue.transfer.events",
    ]
    assert registry.retired_before([topics.INBOUND_RETURNS]) == []


def test_the_asyncapi_document_lists_the_retired_topics_with_their_successors():
    channels = schemas.asyncapi()["channels"]
    old = channels["rescue_intake_events"]
    assert old["x-retired"] == {"successors": list(topics.INTAKE_EVENTS.successors)}
    assert "person_admitted_v1" in old["messages"]  # what was staged before the move
    stays = channels["rescue_intake_stays"]
    assert "x-retired" not in stays and "person_admitted_v1" in stays["messages"]
    assert stays["x-carried-for-order"] == list(topics.INTAKE_STAYS.carried)
    assert "x-audience" in channels["rescue_intake_records"]
    # a release made from this document still says where each event travels
    assert compat.event_topics(schemas.asyncapi())["person_admitted.v1.json"] == (
        "rescue.intake.stays"
    )


@pytest.mark.parametrize(
    ("now", "marked"),
    [("rescue.intake.stays", True), ("rescue.search.identity", False)],
)
def test_a_move_is_marked_only_to_a_successor_of_the_retired_topic(now, marked):
    released = compat.last_release()
    current = schemas.json_schemas()
    moved = {**schemas.event_topics(), "person_admitted.v1.json": now}
    breaks = compat.event_breaks(
        released.events, current, released.topics, moved, retired=schemas.retired_topics()
    )
    assert (breaks == []) is marked
