"""Field encryption at rest (rescue_chassis.crypto): AES-256-GCM under a key ring,
bound to its column; blind indexes for exact search; keys from the settings."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from intake.settings import IntakeSettings
from rescue_chassis.crypto import (
    PREFIX,
    DecryptionError,
    EncryptedText,
    KeyConfigurationError,
    KeyRing,
    bind_key_ring,
    configured_key_ring,
    generate_key,
    key_id,
    key_ring_from_settings,
    key_ring_of,
    parse_data_keys,
)

K1, K2, LOOKUP = generate_key(), generate_key(), generate_key()
CONTEXT = "identity_evidence.national_id_number"
NATIONAL_ID = "11010519491231002X"


def ring(current: str = "k1", **keys: str) -> KeyRing:
    return KeyRing.parse(
        ",".join(f"{kid}:{key}" for kid, key in (keys or {"k1": K1}).items()), current, LOOKUP
    )


def test_round_trip_and_the_stored_form():
    r = ring()
    stored = r.encrypt(NATIONAL_ID, CONTEXT)
    assert stored.startswith(f"{PREFIX}k1:")
    assert NATIONAL_ID not in stored
    assert key_id(stored) == "k1"
    assert r.decrypt(stored, CONTEXT) == NATIONAL_ID
    # a fresh nonce each time: equal values are not equal ciphertexts
    assert r.encrypt(NATIONAL_ID, CONTEXT) != stored
    assert r.decrypt(r.encrypt("", CONTEXT), CONTEXT) == ""
    assert r.decrypt(r.encrypt("李建国 13800138000", CONTEXT), CONTEXT) == "李建国 13800138000"


def test_a_wrong_key_fails_loudly():
    stored = ring().encrypt(NATIONAL_ID, CONTEXT)
    other = KeyRing.parse(f"k1:{K2}", "k1", LOOKUP)  # same key id, another key
    with pytest.raises(DecryptionError, match="does not decrypt"):
        other.decrypt(stored, CONTEXT)
    unknown = KeyRing.parse(f"k9:{K2}", "k9", LOOKUP)
    with pytest.raises(DecryptionError, match="'k1', which is not in the key ring"):
        unknown.decrypt(stored, CONTEXT)


def test_tampered_ciphertext_fails_loudly():
    r = ring(k1=K1, k2=K2)
    stored = r.encrypt(NATIONAL_ID, CONTEXT)
    head, body = stored.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[15] ^= 0x01
    tampered = head + ":" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(DecryptionError):
        r.decrypt(tampered, CONTEXT)
    with pytest.raises(DecryptionError):
        r.decrypt(stored[:-4], CONTEXT)  # truncated
    with pytest.raises(DecryptionError):  # the header names another key of the ring
        r.decrypt(stored.replace(":k1:", ":k2:"), CONTEXT)
    with pytest.raises(DecryptionError, match="malformed"):
        r.decrypt(PREFIX + "no-body", CONTEXT)


def test_a_value_moved_to_another_column_fails():
    r = ring()
    stored = r.encrypt("13800138000", "missing_person_reports.contact_phone")
    with pytest.raises(DecryptionError, match="another column"):
        r.decrypt(stored, "leads.caller_phone")


def test_rotation_new_writes_use_the_new_key_old_values_stay_readable():
    before = ring()
    old = before.encrypt(NATIONAL_ID, CONTEXT)
    after = ring("k2", k1=K1, k2=K2)
    new = after.encrypt(NATIONAL_ID, CONTEXT)
    assert key_id(new) == "k2"
    assert after.decrypt(old, CONTEXT) == NATIONAL_ID
    assert after.decrypt(new, CONTEXT) == NATIONAL_ID
    assert not after.is_current(old) and after.is_current(new)
    # a replica still on the old ring cannot read the new key's values: add keys first
    with pytest.raises(DecryptionError):
        before.decrypt(new, CONTEXT)


def test_legacy_plain_text_is_read_as_is():
    r = ring()
    assert r.reveal("13800138000", "leads.caller_phone") == "13800138000"
    assert key_id("13800138000") is None
    assert not r.is_current("13800138000")


def test_blind_index_equality_and_normalisation():
    r = ring()
    digest = r.blind_index("national_id", NATIONAL_ID)
    assert len(digest) == 64 and NATIONAL_ID.lower() not in digest
    assert r.blind_index("national_id", " 11010519491231002x ") == digest
    assert r.blind_index("national_id", "110105 19491231 002X") == digest
    assert r.blind_index("national_id", "110105194912310011") != digest
    phone = r.blind_index("phone", "138 0013 8000")
    assert r.blind_index("phone", "138-0013-8000") == phone
    assert r.blind_index("phone", "13800138001") != phone
    assert r.blind_index("sample_ref", " DNA-1 ") == r.blind_index("sample_ref", "DNA-1")
    assert r.blind_index("sample_ref", "dna-1") != r.blind_index("sample_ref", "DNA-1")
    # the kind separates digests; the lookup key makes them unguessable without it
    assert r.blind_index("sample_ref", "13800138000") != r.blind_index("phone", "13800138000")
    other = KeyRing.parse(f"k1:{K1}", "k1", K2)
    assert other.blind_index("national_id", NATIONAL_ID) != digest
    # independent of the data keys: rotation keeps the index
    assert ring("k2", k1=K1, k2=K2).blind_index("national_id", NATIONAL_ID) == digest


@pytest.mark.parametrize(
    "keys, current, lookup, message",
    [
        ("k1:not-base64!", "k1", LOOKUP, "not base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "k1", LOOKUP, "32 bytes"),
        (f"k1:{K1},k2:{K2}", None, LOOKUP, "name the one for new writes"),
        (f"k1:{K1}", "k2", LOOKUP, "not among the data keys"),
        (f"k1:{K1},k1:{K2}", "k1", LOOKUP, "appears twice"),
        (f"bad:id:{K1}", "bad", LOOKUP, "base64"),
        (f"k1:{K1}", "k1", K1, "must differ"),
        (K1, None, LOOKUP, "kid:base64key"),
    ],
)
def test_bad_keys_are_refused(keys, current, lookup, message):
    with pytest.raises(KeyConfigurationError, match=message):
        KeyRing.parse(keys, current, lookup)


def test_data_keys_are_read_as_json_or_a_comma_list():
    expected = {"a": base64.b64decode(K1), "b": base64.b64decode(K2)}
    assert parse_data_keys(json.dumps({"a": K1, "b": K2})) == expected
    assert parse_data_keys(json.dumps([f"a:{K1}", f"b:{K2}"])) == expected
    assert parse_data_keys(f" a:{K1} , b:{K2} ") == expected
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(K1)).decode().rstrip("=")
    assert parse_data_keys(f"a:{urlsafe}") == {"a": expected["a"]}


def settings(**values) -> IntakeSettings:
    base = dict(database_url="x", kafka_bootstrap_servers="x", jwt_secret="k" * 40)
    return IntakeSettings(**(base | values))


def test_keys_come_from_the_settings_and_are_checked_at_start_up(monkeypatch):
    monkeypatch.setenv("INTAKE_DATA_KEYS", f"k1:{K1},k2:{K2}")
    monkeypatch.setenv("INTAKE_DATA_KEY_CURRENT", "k2")
    monkeypatch.setenv("INTAKE_LOOKUP_KEY", LOOKUP)
    s = settings()
    assert K1 not in repr(s) and LOOKUP not in repr(s)  # SecretStr
    r = key_ring_from_settings(s, service="intake")
    assert r.current == "k2" and set(r.keys) == {"k1", "k2"}
    monkeypatch.setenv("INTAKE_DATA_KEY_CURRENT", "k3")
    with pytest.raises(ValidationError, match="not among the data keys"):
        settings()
    monkeypatch.delenv("INTAKE_DATA_KEY_CURRENT")
    monkeypatch.delenv("INTAKE_LOOKUP_KEY")
    with pytest.raises(ValidationError, match="half configured: lookup_key"):
        settings()


def test_production_refuses_to_start_without_keys():
    production = settings(
        environment="production",
        jwt_secret="k3Jq9vLw0pXz7RtYb2Nc5Hs8Gd1Fm4Ae6Ui",
        jwt_issuer="https://sso.example.org/r",
    )
    assert configured_key_ring(production) is None
    with pytest.raises(KeyConfigurationError, match="INTAKE_DATA_KEYS"):
        key_ring_from_settings(production, service="intake")


def test_development_keys_without_settings_are_stable_per_secret():
    a = key_ring_from_settings(settings())
    b = key_ring_from_settings(settings())
    assert a.decrypt(b.encrypt("x", CONTEXT), CONTEXT) == "x"
    other = key_ring_from_settings(settings(jwt_secret="z" * 40))
    with pytest.raises(DecryptionError):
        other.decrypt(a.encrypt("x", CONTEXT), CONTEXT)


class _Engine:  # what bind_key_ring needs of an engine
    def __init__(self):
        self.dialect = postgresql.asyncpg.dialect()


def test_the_column_type_encrypts_with_its_engines_ring_and_refuses_without():
    engine, other = _Engine(), _Engine()
    r = ring()
    bind_key_ring(engine, r)
    column_type = EncryptedText(CONTEXT)
    stored = column_type.process_bind_param(NATIONAL_ID, engine.dialect)
    assert r.decrypt(stored, CONTEXT) == NATIONAL_ID
    assert column_type.process_result_value(stored, engine.dialect) == NATIONAL_ID
    assert column_type.process_bind_param(None, engine.dialect) is None
    assert key_ring_of(engine.dialect) is r
    with pytest.raises(KeyConfigurationError, match="no key ring is bound"):
        column_type.process_bind_param(NATIONAL_ID, other.dialect)


def test_comparing_an_encrypted_column_is_refused():
    from search.tables.evidence import IdentityEvidence

    with pytest.raises(TypeError, match="blind index"):
        select(IdentityEvidence).where(IdentityEvidence.national_id_number == NATIONAL_ID)
    with pytest.raises(TypeError, match="blind index"):
        IdentityEvidence.national_id_number.in_([NATIONAL_ID])
    # NULL tests stay allowed
    select(IdentityEvidence).where(IdentityEvidence.national_id_number.is_(None))
    select(IdentityEvidence).where(IdentityEvidence.national_id_number == None)  # noqa: E711
    # the blind index digests the plain value as it is bound
    engine = _Engine()
    bind_key_ring(engine, ring())
    query = select(IdentityEvidence.case_id).where(
        IdentityEvidence.national_id_lookup == NATIONAL_ID
    )
    params = query.compile(dialect=engine.dialect).construct_params()
    processors = query.compile(dialect=engine.dialect)._bind_processors
    (name,) = params
    assert processors[name](params[name]) == ring().blind_index("national_id", NATIONAL_ID)
