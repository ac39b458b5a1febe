"""Dates, times, numbers and booleans in requests (issue 22): the chassis' moment
types (rescue_chassis.moments) keep every date and time a service accepts in a
plausible window, with its UTC offset, never a number; booleans and numbers are
strict. And every request model and query of the five services uses them."""

from __future__ import annotations

import importlib
import types
import typing
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, Strict, TypeAdapter, ValidationError

from rescue_chassis.access import business_routes
from rescue_chassis.moments import (
    MOMENT_TYPES,
    PastDay,
    PastInstant,
    PeriodDay,
    PeriodInstant,
    PlannedInstant,
    ensure_period,
)
from rescue_chassis.problems import Problem

SERVICES = ["intake", "search", "transfer", "referral", "followup"]
CST = timezone(timedelta(hours=8))


def refusal(adapter: TypeAdapter, value) -> dict:
    with pytest.raises(ValidationError) as refused:
        adapter.validate_python(value)
    (error,) = refused.value.errors()
    return error


def iso(moment: datetime) -> str:
    return moment.isoformat()


# ---- PastInstant -----------------------------------------------------------------

past = TypeAdapter(PastInstant)


def test_a_past_instant_takes_an_iso_text_with_its_offset_or_an_aware_datetime():
    now = datetime.now(UTC)
    assert past.validate_python("2026-11-23T07:30:00+08:00") == datetime(
        2026, 11, 23, 7, 30, tzinfo=CST
    )
    assert past.validate_python("1950-01-01T00:00:00Z") == datetime(1950, 1, 1, tzinfo=UTC)
    assert past.validate_python(iso(now + timedelta(minutes=4))) == now + timedelta(minutes=4)
    assert past.validate_python(now) == now  # a caller in process


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+00:00",  # the arrival that broke a station's lists
        "1949-12-31T23:59:59Z",
        "1950-01-01T07:59:59+08:00",  # 1949 in UTC
        "9999-12-31T23:59:59.999999+00:00",
        "2999-01-01T00:00:00+08:00",
    ],
)
def test_a_past_instant_outside_1950_to_now_is_refused_naming_the_window(value):
    error = refusal(past, value)
    assert error["type"] == "moment_window"
    assert "1950-01-01T00:00:00Z" in error["msg"] and "now + 5 minutes" in error["msg"]


def test_a_past_instant_more_than_the_clock_skew_ahead_is_refused():
    assert refusal(past, iso(datetime.now(UTC) + timedelta(minutes=6)))["type"] == "moment_window"


@pytest.mark.parametrize(
    "value", [0, 1700000000, 1.5e9, True, False, "0", "1700000000", "1700000000.5"]
)
def test_a_number_is_not_an_instant(value):
    error = refusal(past, value)
    assert error["type"] == "instant_form"
    assert "numbers are not dates" in error["msg"]


@pytest.mark.parametrize("value", ["2026-11-23T07:30:00", datetime(2026, 11, 23, 7, 30)])
def test_an_instant_without_its_offset_is_refused(value):
    assert refusal(past, value)["type"] == "instant_offset"


@pytest.mark.parametrize("value", ["2026-11-23", date(2026, 11, 23), "yesterday", "", None, []])
def test_a_day_or_anything_else_is_not_an_instant(value):
    assert refusal(past, value)["type"] == "instant_form"


# ---- PlannedInstant ------------------------------------------------------------------

planned = TypeAdapter(PlannedInstant)


def test_a_planned_instant_lies_ahead_within_the_horizon_or_shortly_behind():
    now = datetime.now(UTC)
    for moment in (now + timedelta(hours=2), now + timedelta(days=300), now - timedelta(days=3)):
        assert planned.validate_python(iso(moment)) == moment
    for moment in (
        now + timedelta(days=400),
        now - timedelta(days=40),
        datetime(1, 1, 1, tzinfo=UTC),
    ):
        error = refusal(planned, iso(moment))
        assert error["type"] == "moment_window"
        assert "now − 30 days" in error["msg"] and "now + 366 days" in error["msg"]
    assert refusal(planned, 1767225600)["type"] == "instant_form"


# ---- days --------------------------------------------------------------------------

past_day = TypeAdapter(PastDay)
period_day = TypeAdapter(PeriodDay)


def test_a_past_day_is_a_calendar_day_from_1950_to_today():
    today = datetime.now(UTC).date()
    assert past_day.validate_python("1950-01-01") == date(1950, 1, 1)
    assert past_day.validate_python(str(today + timedelta(days=1))) == today + timedelta(days=1)
    assert past_day.validate_python(today) == today
    for value in ("1949-12-31", "0001-01-01", str(today + timedelta(days=2)), "9999-12-31"):
        assert refusal(past_day, value)["type"] == "moment_window"


@pytest.mark.parametrize(
    "value",
    [0, 1767225600, True, "20260101", "1767225600", "2026-01-01T00:00:00", datetime(2026, 1, 1)],
)
def test_a_number_or_a_date_time_is_not_a_day(value):
    error = refusal(past_day, value)
    assert error["type"] == "day_form" and "YYYY-MM-DD" in error["msg"]


def test_a_period_day_may_run_to_a_year_ahead_never_to_year_9999():
    today = datetime.now(UTC).date()
    assert period_day.validate_python(str(today + timedelta(days=300)))
    for value in ("0001-01-01", "9999-12-31", str(today + timedelta(days=400))):
        assert refusal(period_day, value)["type"] == "moment_window"


def test_a_period_instant_has_its_offset_and_its_window():
    period = TypeAdapter(PeriodInstant)
    assert period.validate_python("2026-01-01T00:00:00+08:00")
    assert refusal(period, "0001-01-01T00:00:00Z")["type"] == "moment_window"
    assert refusal(period, "2026-01-01T00:00:00")["type"] == "instant_offset"


def test_a_reversed_period_is_a_422_naming_the_end_parameter():
    ensure_period(date(2026, 1, 1), date(2026, 1, 1))
    with pytest.raises(Problem) as reversed_:
        ensure_period(date(2026, 1, 2), date(2026, 1, 1))
    assert reversed_.value.status == 422
    assert reversed_.value.errors == [
        {"field": "query.period_end", "reason": "is before period_start"}
    ]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(Problem):
        ensure_period(start, start, end_inclusive=False)


# ---- the OpenAPI document ----------------------------------------------------------


class _Example(BaseModel):
    arrived_at: PastInstant
    departure: PlannedInstant | None = None
    done_on: PastDay


def test_each_moment_type_is_a_documented_schema_of_its_own():
    schema = _Example.model_json_schema()
    definitions = schema["$defs"]
    assert definitions["PastInstant"]["type"] == "string"
    assert definitions["PastInstant"]["format"] == "date-time"
    assert "1950-01-01T00:00:00Z" in definitions["PastInstant"]["description"]
    assert "now + 5 minutes" in definitions["PastInstant"]["description"]
    assert definitions["PastDay"]["format"] == "date"
    assert "now − 30 days" in definitions["PlannedInstant"]["description"]
    assert schema["properties"]["arrived_at"] == {"$ref": "#/$defs/PastInstant"}


def test_the_services_openapi_documents_keep_types_and_document_the_windows():
    from support import JWT_SECRET

    from rescue_chassis.app import create_app

    intake = importlib.import_module("intake.app").service
    settings = intake.settings_class(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        kafka_bootstrap_servers="127.0.0.1:1",
        jwt_secret=JWT_SECRET,
    )
    openapi = create_app(intake, settings).openapi()
    schemas = openapi["components"]["schemas"]
    admission = schemas["AdmissionRequest"]["properties"]
    assert admission["arrived_at"]["anyOf"][0] == {"$ref": "#/components/schemas/PastInstant"}
    assert admission["arrived_at"]["description"].startswith("When the person reached")
    assert schemas["PastInstant"]["format"] == "date-time"
    assert admission["estimated_age"]["anyOf"][0]["type"] == "integer"
    assert admission["consent_given"]["anyOf"][0] == {"type": "boolean"}
    summary = openapi["paths"]["/station/summary"]["get"]["parameters"]
    period = {p["name"]: p for p in summary}["period_start"]
    assert period["schema"] == {"$ref": "#/components/schemas/PeriodDay"}
    assert schemas["PeriodDay"]["format"] == "date"


# ---- strict booleans and numbers, on the services' models ---------------------------


def refused_only(model: type[BaseModel], valid: dict, field: str, value) -> None:
    """``valid`` is accepted; with ``field`` set to ``value`` only that field is refused."""
    model.model_validate(valid)
    with pytest.raises(ValidationError) as refused:
        model.model_validate({**valid, field: value})
    assert {error["loc"][0] for error in refused.value.errors()} == {field}


@pytest.mark.parametrize(
    ("model", "valid", "field", "values"),
    [
        ("intake.api.persons.AdmissionRequest", "admission", "estimated_age", ["30", True, 30.5]),
        ("intake.api.persons.AdmissionRequest", "admission", "consent_given", [0, 1, "true"]),
        (
            "intake.api.persons.AdmissionRequest",
            "admission",
            "arrived_at",
            ["0001-01-01T00:00:00+00:00", 0, "2026-11-23T07:30:00"],
        ),
        ("search.api.notices.ProtectionRequest", "protection", "endangered", [0, 1, "false"]),
        ("transfer.api.returns.Refusal", "refusal", "refused_at", [0, "0", 1767225600.0]),
        ("search.api.identity.EarlierStayRecognition", "recognition", "similarity", [False, "0.9"]),
        ("intake.api.record.HealthCheckRequest", "health", "temperature_c", ["37.2", True]),
        ("intake.api.record.HealthCheckRequest", "health", "pulse_per_minute", ["80", 80.5]),
        ("transfer.api.returns.Fitness", "fitness", "fit_to_travel", [1, "yes"]),
    ],
)
def test_booleans_numbers_and_dates_in_request_bodies_are_strict(model, valid, field, values):
    module, name = model.rsplit(".", 1)
    model_class = getattr(importlib.import_module(module), name)
    for value in values:
        refused_only(model_class, VALID[valid], field, value)


VALID = {
    "admission": {"arrival_route": "own_request", "sex": "male", "estimated_age": 30},
    "protection": {"endangered": True, "reason": "有人在站外打听其下落"},
    "refusal": {"refused_by": "马鞍镇人民政府", "reason": "家属拒绝接收", "refused_at": None},
    "recognition": {
        "earlier_person_id": "00000000-0000-0000-0000-000000000001",
        "method": "face_comparison",
        "similarity": 0.91,
    },
    "health": {
        "checked_by": "李医生",
        "infectious_screening": "negative",
        "temperature_c": 37,  # a number without its fraction is still a number
        "pulse_per_minute": 80,
    },
    "fitness": {"fit_to_travel": True},
}


# ---- every request of every service --------------------------------------------------

WINDOWS = {id(window) for window in MOMENT_TYPES}


def _leaves(annotation, metadata=()):
    """(type, metadata) for each type a field's annotation may hold."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        yield from _leaves(inner, (*metadata, *extra))
    elif origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        for arg in typing.get_args(annotation):
            if arg is not type(None) and arg is not Ellipsis:
                yield from _leaves(arg, metadata)
    else:
        yield annotation, metadata


def _is_moment(leaf) -> bool:
    """A date or a time: datetime, date, and pydantic's AwareDatetime, PastDate...."""
    if not isinstance(leaf, type):
        return False
    pydantic_moment = leaf.__module__ == "pydantic.types" and ("Date" in leaf.__name__)
    return issubclass(leaf, date) or pydantic_moment


def _lax(annotation, metadata) -> list[str]:
    found = []
    for leaf, meta in _leaves(annotation, metadata):
        windowed = any(id(m) in WINDOWS for m in meta)
        strict = any(isinstance(m, Strict) and m.strict for m in meta)
        if _is_moment(leaf) and not windowed:
            found.append("a date or time without its window (rescue_chassis.moments)")
        elif leaf in (bool, int, float) and not strict:
            found.append(f"a lax {leaf.__name__} (use pydantic's Strict{leaf.__name__.title()})")
    return found


def _body_models(annotation) -> list[type[BaseModel]]:
    return [
        leaf
        for leaf, _ in _leaves(annotation)
        if isinstance(leaf, type) and issubclass(leaf, BaseModel)
    ]


def _requests(name: str):
    service = importlib.import_module(f"{name}.app").service
    for guarded in business_routes(service.routers):
        dependant = guarded.route.dependant
        stack = [dependant]
        while stack:
            current = stack.pop()
            stack.extend(current.dependencies)
            yield from (("query", guarded.path, param) for param in current.query_params)
            yield from (("body", guarded.path, param) for param in current.body_params)


@pytest.mark.parametrize("name", SERVICES)
def test_every_request_of_every_service_takes_moments_and_strict_scalars(name):
    faults: list[str] = []
    seen: set[type] = set()

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for field_name, field in model.model_fields.items():
            where = f"{model.__module__}.{model.__qualname__}.{field_name}"
            faults.extend(f"{where}: {fault}" for fault in _lax(field.annotation, field.metadata))
            for inner in _body_models(field.annotation):
                visit(inner)

    bodies = 0
    for kind, path, param in _requests(name):
        info = param.field_info
        if kind == "query":
            faults.extend(
                f"{path} ?{param.name}: {fault}"
                for fault in _lax(info.annotation, info.metadata)
                if "date" in fault  # a query's numbers and booleans come as text
            )
        for model in _body_models(info.annotation):
            bodies += 1
            visit(model)
    assert bodies
    assert faults == []
