import uuid

import pytest

from rescue_events.envelope import Envelope, MalformedEnvelope, trace_carrier
from rescue_events.registry import parse_schema_urn, schema_urn


def an_envelope(**overrides) -> Envelope:
    values = dict(
        type="person_admitted",
        source="/rescue-network/intake",
        subject=str(uuid.uuid4()),
        dataschema=schema_urn("person_admitted", 1),
        correlation_id="corr-1",
        causation_id="evt-0",
        station_id="gushi",
    )
    return Envelope(**(values | overrides))


def as_kafka(headers: list[tuple[str, str]]) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in headers]


def test_round_trips_through_kafka_headers():
    envelope = an_envelope()
    assert Envelope.from_headers(as_kafka(envelope.to_headers())) == envelope


def test_uses_the_cloudevents_kafka_binding_names():
    headers = dict(an_envelope().to_headers())
    assert headers["ce_specversion"] == "1.0"
    assert headers["content-type"] == "application/json"
    assert headers["ce_stationid"] == "gushi"
    assert headers["ce_time"].endswith("Z")
    assert "ce_datacontenttype" not in headers


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_source", "ce_specversion"])
def test_refuses_records_missing_required_attributes(missing):
    headers = [h for h in an_envelope().to_headers() if h[0] != missing]
    with pytest.raises(MalformedEnvelope, match=missing):
        Envelope.from_headers(as_kafka(headers))


def test_refuses_headers_that_are_not_utf8():
    headers = as_kafka(an_envelope().to_headers()) + [("ce_stationid", b"\xff\xfe")]
    with pytest.raises(MalformedEnvelope, match="UTF-8"):
        Envelope.from_headers(headers)


def test_refuses_other_content_types_and_spec_versions():
    with pytest.raises(MalformedEnvelope, match="content-type"):
        Envelope.from_headers(as_kafka(an_envelope(datacontenttype="text/xml").to_headers()))
    with pytest.raises(MalformedEnvelope, match="specversion"):
        Envelope.from_headers(as_kafka(an_envelope(specversion="0.3").to_headers()))


def test_trace_context_is_read_from_w3c_headers():
    headers = [("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"), ("other", b"x")]
    assert trace_carrier(headers) == {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}


def test_schema_urns_carry_name_and_version():
    assert parse_schema_urn(schema_urn("identity_confirmed", 3)) == ("identity_confirmed", 3)
    for bad in ["urn:other:x:v1", "urn:rescue-network:events:x:1", "urn:rescue-network:events::v1"]:
        with pytest.raises(ValueError):
            parse_schema_urn(bad)
