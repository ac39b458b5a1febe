import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from rescue_events import schemas
from rescue_events.contracts import IdentityConfirmedV1, PersonAdmittedV1
from rescue_events.registry import Registry, registry

OWNER_EVENT_NAMES = {
    "person_admitted",
    "search_case_opened",
    "identity_confirmed",
    "return_opened",
    "person_handed_over",
    "referral_opened",
    "stabilisation_opened",
}
# Events each service adds for the steps of its own work.
STEP_EVENT_NAMES = {
    "escort_planned",
    "escort_departed",
    "escort_leg_completed",
    "handover_refused",
    "escalation_resolved",
    "return_notice_issued",
    "earlier_stay_recognised",
    "revisit_recorded",
    "revisit_overdue",
    "help_task_opened",
    "at_risk_registered",
    "risk_assessed",
    "repeat_wandering_flagged",
    "stabilisation_closed",
    "inbound_return_notified",  # another region's return notice, to followup
    "referral_status_changed",
    "referral_overdue",
    "womens_federation_referral",
    "minor_protection_referral",
    "police_referral",
    "hospital_referral",
    "civil_affairs_referral",
    "social_organisation_referral",
    "partner_answer",
    "person_discharged",
    "incident_reported",
    "long_stay_reached",
    "lead_received",
    "lead_closed",
    "help_refused",
    "refusal_linked",
    "refusal_photo_shared",  # a refusal's face photo, for search to recognise
    "refusal_face_recognised",  # search's answer: who the face may be
    "burial_recorded",
    "hospital_placement_made",
    "hospital_placement_ended",
    "long_hospital_stay_reached",
    "photo_added",
    "photo_shared_for_search",  # a face photo for search to enrol
    "belongings_returned",
    "outsourced_care_started",
    "outsourced_care_visited",
    "outsourced_care_ended",
    "settlement_step_recorded",
    "lead_triaged",
    "lead_assigned",
    "hospital_screening_recorded",
    "belongings_recorded",
    "health_check_recorded",
    "search_task_overdue",
    "search_case_moved",  # the case followed its person to another station
    "deadline_escalated",  # the center's escalation list
    "notice_published",
    "notice_publication_failed",
    "notice_taken_down",
    "police_identity_check_requested",
    "police_dna_sample_submitted",
    "police_identity_check_answer",
    "police_dna_result",
    "police_check_answered",
    "dna_result_reported",
    "dna_hit_reverified",
    "dna_hit_not_confirmed",
    "police_check_escalated",  # an unverifiable check passed up (逐级上报)
    "police_check_unverifiable_at_top",  # the top level could not verify: flagged
    "clue_recorded",
    "identity_candidate_proposed",
    "identity_candidate_rejected",
    "audit_recorded",  # every service's audit trail: deprecated, no longer published
    "audit_chain_anchored",  # the head of a service's audit chain, kept by summary
    "partner_delivery_acknowledged",  # referral's deliveries: a partner's receipt
    "partner_delivery_overdue",  # a receipt not given by its deadline, flagged once
    "partner_delivery_failed",  # a webhook given up (topic and pull feed still have it)
    "bureau_incident",  # an incident, to the civil-affairs bureau over the station
    "bureau_escalation",  # an escalation, to that bureau
    "home_region_return_notice",  # the written return notice, to the home region's station
}


def admitted(**extra) -> dict:
    return {
        "person_id": str(uuid.uuid4()),
        "station_id": "gushi",
        "arrived_at": "2026-11-23T08:00:00+08:00",
        "admitted_at": "2026-11-23T08:30:00+08:00",
        "arrival_route": "own_request",
        "identity_status": "unknown",
        "sex": "male",
        **extra,
    }


def test_every_event_of_the_path_is_registered_under_the_owners_name():
    assert {name for name, _ in registry.events} == OWNER_EVENT_NAMES | STEP_EVENT_NAMES


def test_events_are_facts_and_cannot_be_changed():
    event = PersonAdmittedV1.model_validate(admitted())
    with pytest.raises(ValidationError):
        event.station_id = "center"


def test_readers_ignore_fields_added_by_newer_producers():
    event = PersonAdmittedV1.model_validate_json(
        PersonAdmittedV1.model_validate(admitted()).model_dump_json()[:-1] + ', "shoe_size": 42}'
    )
    assert not hasattr(event, "shoe_size")


def test_times_without_offset_are_refused():
    with pytest.raises(ValidationError, match="arrived_at"):
        PersonAdmittedV1.model_validate(admitted(arrived_at="2026-11-23T08:00:00"))


def test_home_admin_codes_are_6_9_or_12_digits():
    base = dict(
        person_id=uuid.uuid4(),
        station_id="gushi",
        confirmed_at=datetime.now(UTC),
        confirmed_by="u",
        method="dna",
        full_name="李",
        home_province="四川省",
        home_address="x",
        cross_province=True,
    )
    assert IdentityConfirmedV1(**base, home_admin_code="511324").home_admin_code == "511324"
    with pytest.raises(ValidationError, match="home_admin_code"):
        IdentityConfirmedV1(**base, home_admin_code="5113")


def test_a_wire_name_cannot_be_registered_twice():
    own = Registry()
    topic = own.topic("t", partitions=1, description="")

    class A(BaseModel):
        pass

    class B(BaseModel):
        pass

    own.event("x", 1, topic=topic, summary="")(A)
    with pytest.raises(ValueError, match="twice"):
        own.event("x", 1, topic=topic, summary="")(B)


def test_committed_schemas_match_the_contracts_in_code():
    assert schemas.drift() == []


def test_schema_drift_is_detected(tmp_path):
    schemas.write(tmp_path)
    assert schemas.drift(tmp_path) == []
    changed = tmp_path / "person_admitted.v1.json"
    changed.write_text(changed.read_text().replace('"station_id"', '"station"', 1))
    (tmp_path / "orphan.v9.json").write_text("{}")
    (tmp_path / "return_opened.v1.json").unlink()
    assert sorted(schemas.drift(tmp_path)) == [
        "orphan.v9.json: no contract in code produces it",
        "person_admitted.v1.json: differs from the contract in code",
        "return_opened.v1.json: missing",
    ]


def test_asyncapi_names_every_topic_and_message():
    document = schemas.asyncapi()
    addresses = {c["address"] for c in document["channels"].values()}
    # and one channel for every agency's own topic (referral's deliveries)
    assert addresses == {t for t in registry.topics} | {"rescue.partner.agency.{agency_id}"}
    agency = document["channels"]["rescue_partner_agency"]
    assert "womens_federation_referral_v1" in agency["messages"]
    assert "police_identity_check_requested_v1" in agency["messages"]
    assert "partner_answer_v1" not in agency["messages"]
    assert set(document["components"]["messages"]) == {
        f"{name}_v{version}" for name, version in registry.events
    }
    assert {name for name, _ in registry.events} == OWNER_EVENT_NAMES | STEP_EVENT_NAMES
