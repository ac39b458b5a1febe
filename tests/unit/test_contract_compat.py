"""Contracts hold against the last release (issue 31): every event schema and every
service's OpenAPI document are compared with ``contracts/released/<last>/``; a
breaking change fails unless its version is raised, an additive one passes."""

from __future__ import annotations

import copy
from enum import StrEnum

import pytest
from pydantic import create_model

from rescue_chassis import api_contracts
from rescue_events import compat, schemas
from rescue_events.contracts.base import EventContract
from rescue_events.contracts.intake import PersonAdmittedV1
from rescue_events.registry import Registry, registry

ADMITTED = "person_admitted.v1.json"


@pytest.fixture(scope="module")
def release() -> compat.Release:
    return compat.last_release()


@pytest.fixture(scope="module")
def documents(release) -> dict[str, dict]:
    """The released services' OpenAPI documents as the code builds them now."""
    return api_contracts.openapi_documents(release.openapi)


def test_the_contracts_in_code_keep_every_released_contract(release, documents):
    assert release.version == compat.released_versions()[-1]
    assert set(release.openapi) >= {"intake", "search", "transfer", "referral", "followup"}
    assert len(release.events) > 40
    assert api_contracts.breaks(release, documents) == []


# ---- events, through real pydantic contracts -------------------------------------


def admitted(**changes) -> type[EventContract]:
    """person_admitted v1's contract with fields changed (None: removed)."""
    fields = {
        name: (info.annotation, info)
        for name, info in PersonAdmittedV1.model_fields.items()
        if name not in changes
    }
    fields.update({name: spec for name, spec in changes.items() if spec is not None})
    return create_model("PersonAdmittedV1", __base__=EventContract, **fields)


def event_schemas(model: type[EventContract], version: int = 1) -> dict[str, dict]:
    """Every contract in code, with person_admitted as ``model`` registered under ``version``."""
    own = Registry()
    topic = registry.lookup("person_admitted", 1).topic
    own.event("person_admitted", version, topic=topic, summary="changed")(model)
    current = {**schemas.json_schemas(), **schemas.json_schemas(own)}
    if version != 1:
        del current[ADMITTED]
    return current


def event_breaks(release, model, version: int = 1) -> list[str]:
    return compat.event_breaks(release.events, event_schemas(model, version))


class FewerCategories(StrEnum):
    MINOR = "minor"
    ELDERLY = "elderly"


class MoreCategories(StrEnum):
    MINOR = "minor"
    ELDERLY = "elderly"
    DISABLED = "disabled"
    MENTAL_ILLNESS = "mental_illness"
    DEMENTIA = "dementia"
    PREGNANT = "pregnant"
    DOMESTIC_VIOLENCE_VICTIM = "domestic_violence_victim"
    SUSPECTED_TRAFFICKING = "suspected_trafficking"
    COERCED_BEGGING = "coerced_begging"
    STRANDED_STUDENT = "stranded_student"


FewerCategories.__name__ = MoreCategories.__name__ = "PersonCategory"


def test_the_unchanged_contract_rebuilt_is_compatible(release):
    assert event_breaks(release, admitted()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"arrived_at": None}, "event person_admitted v1: arrived_at: removed"),
        (
            {"station_id": (int, ...)},
            "event person_admitted v1: station_id: type changed from string to integer",
        ),
        (
            {"stay_sequence": (int, ...)},
            "event person_admitted v1: stay_sequence: optional made required",
        ),
        (
            {"estimated_age": (int | None, ...)},
            "event person_admitted v1: estimated_age: optional made required",
        ),
        (
            {"categories": (list[FewerCategories], [])},
            "event person_admitted v1: categories[]: enum values removed: disabled, "
            "mental_illness, dementia, pregnant, domestic_violence_victim, "
            "suspected_trafficking, coerced_begging",
        ),
        ({"ward": (str, ...)}, "event person_admitted v1: ward: added as required"),
    ],
    ids=[
        "field removed",
        "type changed",
        "made required",
        "nullable made required",
        "enum value removed",
        "new required field",
    ],
)
def test_a_breaking_event_change_fails_the_check(release, change, expected):
    assert expected in event_breaks(release, admitted(**change))


def test_a_breaking_event_change_passes_under_a_new_version(release):
    broken = admitted(arrived_at=None, station_id=(int, ...))
    assert event_breaks(release, broken, version=1) != []
    assert event_breaks(release, broken, version=2) == []


def test_an_additive_event_change_passes(release):
    grown = admitted(
        ward=(str | None, None),
        categories=(list[MoreCategories], []),
    )
    assert event_breaks(release, grown) == []


def test_an_event_removed_or_moved_fails(release):
    current = schemas.json_schemas()
    gone = {name: schema for name, schema in current.items() if name != ADMITTED}
    assert compat.event_breaks(release.events, gone) == [
        "event person_admitted v1: removed (publish a new version instead)"
    ]
    topics = schemas.event_topics()
    # moves to a successor of the retired topic are marked (issue 30); this one is not
    moved = {**topics, ADMITTED: "rescue.search.identity"}
    retired = schemas.retired_topics()
    assert compat.event_breaks(release.events, current, release.topics, moved, retired) == [
        "event person_admitted v1: moved from topic rescue.intake.events to rescue.search.identity"
    ]


def test_a_release_written_and_read_back_is_checked_like_the_committed_one(tmp_path, release):
    files = schemas.rendered()
    files[ADMITTED] = files[ADMITTED].replace('"arrived_at"', '"arrival_time"')
    compat.write_release(tmp_path / "1.1.0", files, {})
    (tmp_path / "0.9.0").mkdir()
    newest = compat.last_release(tmp_path)
    assert newest.version == "1.1.0"
    assert newest.topics[ADMITTED] == "rescue.intake.stays"
    assert api_contracts.breaks(newest) == [  # as if the release had named it arrival_time
        "event person_admitted v1: arrival_time: removed",
        "event person_admitted v1: arrived_at: added as required",
    ]
    with pytest.raises(FileExistsError):
        compat.write_release(tmp_path / "1.1.0", files, {})


# ---- OpenAPI -------------------------------------------------------------------------


@pytest.fixture
def intake(documents) -> dict:
    return copy.deepcopy(documents["intake"])


def breaks_of(release, document) -> list[str]:
    return compat.openapi_breaks(release.openapi["intake"], document, "intake")


def test_a_path_or_operation_removed_fails(release, intake):
    del intake["paths"]["/persons/{person_id}"]
    del intake["paths"]["/persons"]["get"]
    assert breaks_of(release, intake) == [
        "intake GET /persons: operation removed",
        "intake GET /persons/{person_id}: path removed",
    ]


def test_an_operation_id_is_stable(release, intake):
    intake["paths"]["/persons"]["post"]["operationId"] = "createPerson"
    assert breaks_of(release, intake) == [
        "intake POST /persons: operationId changed from admitPerson to createPerson "
        "(operationIds are stable: clients are generated from them)"
    ]


def test_request_fields_added_as_required_or_made_required_fail(release, intake):
    request = intake["components"]["schemas"]["AdmissionRequest"]
    request["properties"]["ward"] = {"type": "string"}
    request["required"] = [*request.get("required", ()), "ward", "dialect"]
    found = breaks_of(release, intake)
    assert "intake POST /persons: request body.ward: added as required" in found
    assert "intake POST /persons: request body.dialect: optional made required" in found


def test_a_response_field_removed_or_retyped_fails(release, intake):
    view = intake["components"]["schemas"]["PersonView"]
    del view["properties"]["registered_home_admin_code"]
    view["properties"]["station_id"] = {"type": "integer"}
    found = breaks_of(release, intake)
    assert (
        "intake GET /persons/{person_id}: response 200 body.registered_home_admin_code: "
        "removed" in found
    )
    assert (
        "intake GET /persons/{person_id}: response 200 body.station_id: type changed "
        "from string to integer" in found
    )


def test_a_parameter_narrowed_or_an_enum_value_removed_fails(release, intake):
    for parameter in intake["paths"]["/persons"]["get"]["parameters"]:
        if parameter["name"] == "limit":
            parameter["schema"] = {"type": "string", "format": "uuid"}
    intake["components"]["schemas"]["Sex"]["enum"].remove("unknown")
    found = breaks_of(release, intake)
    assert (
        "intake GET /persons: query parameter limit: type changed from integer to string" in found
    )
    assert "intake POST /persons: request body.sex: enum values removed: unknown" in found


def test_an_additive_api_change_passes(release, intake):
    intake["paths"]["/persons/{person_id}/wards"] = {
        "get": {"operationId": "listWards", "responses": {"200": {"description": "ok"}}}
    }
    request = intake["components"]["schemas"]["AdmissionRequest"]
    request["properties"]["ward"] = {"type": "string"}
    view = intake["components"]["schemas"]["PersonView"]
    view["properties"]["ward"] = {"type": "string"}
    view["required"] = [*view.get("required", ()), "ward"]
    intake["components"]["schemas"]["Sex"]["enum"].append("intersex")
    assert breaks_of(release, intake) == []


def test_a_breaking_api_change_passes_under_a_new_major_version(release, intake):
    del intake["paths"]["/persons/{person_id}"]
    intake["info"]["version"] = "1.1.0"
    assert breaks_of(release, intake) != []  # a minor version is no licence
    intake["info"]["version"] = "2.0.0"
    assert breaks_of(release, intake) == []


def test_make_contracts_check_exits_1_on_a_breaking_change(tmp_path, monkeypatch, capsys):
    files = schemas.rendered()
    files[ADMITTED] = files[ADMITTED].replace('"arrived_at"', '"arrival_time"')
    compat.write_release(tmp_path / "1.0.0", files, {})
    monkeypatch.setattr(compat, "last_release", lambda: compat.load_release(tmp_path / "1.0.0"))
    assert api_contracts.main(["api_contracts", "check"]) == 1
    said = capsys.readouterr().out
    assert "event person_admitted v1: arrival_time: removed" in said
    assert "2 breaking change(s) against release 1.0.0" in said
