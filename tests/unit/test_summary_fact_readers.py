"""How each event becomes a fact (summary.facts): the table of events read field for
field names only attributes their contracts have, and a fact takes each field from
the attribute its row names."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import datetime

import pytest

from rescue_events.contracts import EscortPlannedV1, ReferralStatusChangedV1
from summary.facts import CHINA, READERS, Reads, fact_of

TABLE = {model: reads for model, reads in READERS.items() if isinstance(reads, Reads)}
MOMENT = datetime(2026, 11, 3, 10, tzinfo=CHINA)


def test_most_events_are_read_from_the_table():
    assert len(TABLE) >= 20
    assert all(callable(reader) for reader in READERS.values())


@pytest.mark.parametrize("model", list(TABLE), ids=lambda model: model.__name__)
def test_each_row_names_attributes_of_its_event(model):
    reads = TABLE[model]
    for spec in fields(reads):
        path = getattr(reads, spec.name)
        if spec.name == "kind" or path is None:
            continue
        head, *rest = path.split(".")
        assert head in model.model_fields, f"{model.__name__} has no {head} ({spec.name})"
        assert rest in ([], ["value"]), path  # only an enum's value is read through


def test_a_fact_takes_each_field_from_the_attribute_its_row_names():
    escort, return_id, person = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    planned = EscortPlannedV1(
        person_id=person,
        escort_id=escort,
        return_id=return_id,
        escort_station_id="center",
        destination_province="四川省",
        transport_mode="train",
        planned_departure_at=MOMENT,
        batch_size=1,
    )
    fact = fact_of("event-1", planned)
    assert (fact.kind, fact.station_id, fact.at) == ("escort_planned", "center", MOMENT)
    assert (fact.ref, fact.ref2, fact.person_id) == (escort, return_id, person)
    assert fact.detail is None and fact.flag is None


def test_an_enum_is_read_as_its_value_and_a_row_without_station_leaves_it_empty():
    changed = ReferralStatusChangedV1(
        person_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        agency_id="fed",
        status="completed",
        previous_status="in_progress",
        changed_by="fed",
        changed_at=MOMENT,
    )
    fact = fact_of("event-2", changed)
    assert fact.detail == "completed" and type(fact.detail) is str
    assert fact.station_id is None and fact.ref == changed.referral_id
