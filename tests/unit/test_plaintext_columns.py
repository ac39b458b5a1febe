"""Nothing sensitive in plain text (issue 32): every column of every service named
like a phone, an identity number, a document, an address, a secret or a contact is
encrypted (rescue_chassis.crypto), or registered below with the reason it is not."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import Column, MetaData, String, Table

from rescue_chassis.crypto import EncryptedJSON, EncryptedText, plain_sensitive_columns
from rescue_chassis.tables import service_tables

SERVICES = ["intake", "search", "transfer", "referral", "followup", "summary"]

HOME = "the registered home (household register): the return's destination, routed by"
# (service, table, column): why it may stay plain. A new entry needs a reason a
# reviewer accepts; an entry whose column is gone or now encrypted fails the check.
PLAIN_BY_DESIGN: dict[tuple[str, str, str], str] = {
    ("intake", "persons", "registered_home_address"): HOME,
    ("search", "search_cases", "home_address"): HOME,
    ("search", "police_checks", "home_address"): HOME,
    ("transfer", "returns", "home_address"): HOME,
    ("followup", "inbound_returns", "home_address"): HOME,
    ("followup", "stabilisation_records", "home_address"): HOME,
    ("intake", "outsourced_care", "address"): "a care institution's address, not a person's",
    ("search", "missing_person_reports", "contact_name"): "a name; the phone is encrypted",
    ("transfer", "returns", "receiver_id_document_type"): "the kind of document, not its number",
    ("transfer", "return_notices", "addressed_to"): "the civil-affairs department addressed",
}


def plain_columns(metadata: MetaData, service: str) -> set[tuple[str, str, str]]:
    return {(service, c.table.name, c.name) for c in plain_sensitive_columns(metadata)}


def found_in_services() -> set[tuple[str, str, str]]:
    found = set()
    for name in SERVICES:
        service = importlib.import_module(f"{name}.app").service
        found |= plain_columns(service.tables.metadata, name)
    return found


def test_no_service_keeps_an_unregistered_sensitive_column_in_plain_text():
    unregistered = found_in_services() - PLAIN_BY_DESIGN.keys()
    assert not unregistered, (
        f"sensitive columns in plain text: {sorted(unregistered)}; encrypt them "
        "(rescue_chassis.crypto.EncryptedText / EncryptedJSON) or register them with a reason"
    )


def test_every_registered_exception_is_still_a_plain_column():
    assert set(PLAIN_BY_DESIGN) <= found_in_services()


def test_a_plain_mobile_phone_column_added_to_a_service_fails_the_check():
    metadata = importlib.import_module("intake.app").service.tables.metadata
    carers = Table(
        "carers",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("mobile_phone", String(30)),  # the mistake
        Column("home_address", EncryptedText("carers.home_address")),
        Column("documents", EncryptedJSON("carers.documents")),
    )
    try:
        with pytest.raises(AssertionError, match=r"\('intake', 'carers', 'mobile_phone'\)"):
            test_no_service_keeps_an_unregistered_sensitive_column_in_plain_text()
        assert plain_columns(metadata, "intake") - PLAIN_BY_DESIGN.keys() == {
            ("intake", "carers", "mobile_phone")
        }
    finally:
        metadata.remove(carers)
    test_no_service_keeps_an_unregistered_sensitive_column_in_plain_text()


@pytest.mark.parametrize(
    "column",
    ["webhook_secret", "contacts", "national_id_number", "caller_phone", "id_document_number"],
)
def test_names_of_sensitive_values_are_recognised(column):
    metadata = MetaData()
    Table("t", metadata, Column("id", String(1), primary_key=True), Column(column, String(10)))
    assert [c.name for c in plain_sensitive_columns(metadata)] == [column]


def test_the_fields_sealed_for_issue_32_are_encrypted():
    from intake.tables import Stay
    from referral.tables import Agency
    from transfer.tables import Return

    sealed = [
        service_tables()[0].idempotency.c.response,
        Stay.__table__.c.handover,
        Agency.__table__.c.contacts,
        Agency.__table__.c.webhook_secret,
        Return.__table__.c.receiver_id_document_number,
    ]
    assert all(isinstance(c.type, EncryptedText) for c in sealed)
    assert [c.type.context for c in sealed] == [
        "idempotency_keys.response",
        "stays.handover",
        "agencies.contacts",
        "agencies.webhook_secret",
        "returns.receiver_id_document_number",
    ]
