"""Police partner rules (DOMAIN.md, "The life of a case", 2), without I/O: a DNA hit
is trusted only once a fresh sample re-verifies it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from rescue_chassis.network import load_network
from rescue_events.contracts.search_police import (
    DnaResult,
    PoliceDnaSampleSubmittedV1,
    PoliceIdentityCheckRequestedV1,
)
from search.police import (
    Reverification,
    SampleStatus,
    contact_station,
    first_result_status,
    fresh_sample_status,
    may_reverify,
    response_seconds,
    reverification,
)

HIT_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_first_hit_is_only_an_unverified_hit():
    assert first_result_status(DnaResult.HIT) is SampleStatus.HIT_UNVERIFIED
    assert first_result_status(DnaResult.NO_MATCH) is SampleStatus.NO_MATCH
    assert first_result_status(DnaResult.UNUSABLE) is SampleStatus.UNUSABLE


def test_a_fresh_sample_is_another_sample_taken_after_the_hit():
    later = HIT_AT + timedelta(hours=2)
    assert may_reverify("DNA-1", HIT_AT, "DNA-2", later)
    assert not may_reverify("DNA-1", HIT_AT, "DNA-1", later), "the same sample again"
    assert not may_reverify("DNA-1", HIT_AT, " DNA-1 ", later), "the same reference, padded"
    assert not may_reverify("DNA-1", HIT_AT, "DNA-2", HIT_AT - timedelta(minutes=1)), (
        "taken before the hit"
    )
    assert not may_reverify("DNA-1", HIT_AT, "DNA-2", HIT_AT), "not after the hit"


def test_the_same_record_hit_again_confirms_the_hit():
    assert reverification("REC-9", DnaResult.HIT, "REC-9") is Reverification.CONFIRMED
    assert fresh_sample_status(Reverification.CONFIRMED, DnaResult.HIT) is SampleStatus.CONFIRMS_HIT


def test_no_match_on_the_fresh_sample_means_the_hit_is_not_confirmed():
    assert reverification("REC-9", DnaResult.NO_MATCH, None) is Reverification.NOT_CONFIRMED
    assert (
        fresh_sample_status(Reverification.NOT_CONFIRMED, DnaResult.NO_MATCH)
        is SampleStatus.NO_MATCH
    )


def test_a_hit_on_another_record_contradicts_the_hit_and_needs_its_own_check():
    outcome = reverification("REC-9", DnaResult.HIT, "REC-7")
    assert outcome is Reverification.NOT_CONFIRMED
    assert fresh_sample_status(outcome, DnaResult.HIT) is SampleStatus.HIT_UNVERIFIED


def test_an_unusable_fresh_sample_decides_nothing():
    assert reverification("REC-9", DnaResult.UNUSABLE, None) is Reverification.UNDECIDED


def test_response_times_are_seconds_and_never_negative():
    assert response_seconds(HIT_AT, HIT_AT + timedelta(minutes=3, seconds=5)) == 185.0
    assert response_seconds(HIT_AT, HIT_AT - timedelta(seconds=2)) == 0.0


def test_a_domestic_violence_victims_station_is_never_named_to_the_police():
    network = load_network()
    assert contact_station(network, "gushi", ["domestic_violence_victim"]) == network.center.id
    assert contact_station(network, "gushi", ["elderly"]) == "gushi"
    assert contact_station(network, "gushi", []) == "gushi"


@pytest.mark.parametrize("model", [PoliceIdentityCheckRequestedV1, PoliceDnaSampleSubmittedV1])
def test_the_police_feed_carries_no_categories_nor_places(model):
    fields = set(model.model_fields)
    assert not fields & {"categories", "stated_places", "dialect", "domestic_violence", "full_name"}


def test_requests_to_the_police_need_a_person():
    with pytest.raises(ValidationError, match="person_id"):
        PoliceIdentityCheckRequestedV1(
            request_id=uuid.uuid4(),
            case_id=uuid.uuid4(),
            station_id="gushi",
            sex="male",
            requested_at=HIT_AT,
        )
