"""The rules of the person's record and care (intake.care_rules): photos,
health-check values, belongings at discharge, outsourced-care monitoring, the
settlement procedure."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta

import pytest

from intake.care_rules import (
    MAX_PHOTO_BYTES,
    PNG_MAGIC,
    VISIT_INTERVAL,
    Conflict,
    PhotoTooLarge,
    Refused,
    belongings_at_discharge,
    check_outsourced_care_start,
    check_settled_discharge,
    check_settlement_step,
    check_time,
    check_vitals,
    days_since_last_visit,
    decode_photo,
    next_settlement_step,
    settlement_complete,
    station_day,
    visit_is_latest,
    visit_overdue,
)
from rescue_events.contracts.intake_care import SettlementStep

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
STEPS = list(SettlementStep)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---- photos ------------------------------------------------------------------


def test_a_jpeg_or_png_is_recognised_by_its_magic_bytes():
    assert decode_photo(b64(b"\xff\xd8\xff\xe0" + b"\0" * 20))[1] == "image/jpeg"
    image, content_type = decode_photo(b64(PNG_MAGIC + b"\0" * 20))
    assert (content_type, image[:8]) == ("image/png", PNG_MAGIC)


@pytest.mark.parametrize(
    "encoded",
    [b64(b"just some text, not a photo"), b64(b"GIF89a" + b"\0" * 20), "not base64!!"],
)
def test_anything_but_a_jpeg_or_png_is_refused_naming_the_image(encoded):
    with pytest.raises(Refused) as refused:
        decode_photo(encoded)
    assert refused.value.field == "image"


def test_a_photo_of_at_most_2_mib_is_taken_and_a_larger_one_is_too_large():
    at_limit = PNG_MAGIC + b"\0" * (MAX_PHOTO_BYTES - len(PNG_MAGIC))
    assert len(decode_photo(b64(at_limit))[0]) == MAX_PHOTO_BYTES
    with pytest.raises(PhotoTooLarge):
        decode_photo(b64(at_limit + b"\0"))
    with pytest.raises(PhotoTooLarge):  # refused before decoding
        decode_photo("A" * (MAX_PHOTO_BYTES * 2))


# ---- times -------------------------------------------------------------------


def test_recorded_times_lie_neither_in_the_future_nor_before_arrival():
    check_time("checked_at", NOW + timedelta(minutes=2), now=NOW)  # a tablet's clock skew
    with pytest.raises(Refused) as future:
        check_time("checked_at", NOW + timedelta(hours=1), now=NOW)
    assert future.value.field == "checked_at"
    with pytest.raises(Refused) as early:
        check_time("received_at", NOW - timedelta(days=2), now=NOW, not_before=NOW - timedelta(1))
    assert early.value.field == "received_at" and "arrived" in early.value.reason


def test_the_stations_day_is_the_china_calendar_day():
    assert station_day(datetime(2026, 11, 23, 17, 30, tzinfo=UTC)) == date(2026, 11, 24)


# ---- the health check ----------------------------------------------------------


def test_plausible_vitals_pass_and_missing_ones_are_allowed():
    check_vitals(temperature_c=36.8, systolic_mmhg=128, diastolic_mmhg=82, pulse_per_minute=76)
    check_vitals(temperature_c=None, systolic_mmhg=None, diastolic_mmhg=None, pulse_per_minute=None)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"temperature_c": 368.0}, "temperature_c"),  # 36.8 typed without its point
        ({"temperature_c": 30.0}, "temperature_c"),
        ({"pulse_per_minute": 400}, "pulse_per_minute"),
        ({"systolic_mmhg": 300, "diastolic_mmhg": 80}, "systolic_mmhg"),
        ({"systolic_mmhg": 80, "diastolic_mmhg": 120}, "diastolic_mmhg"),
        ({"systolic_mmhg": 120}, "diastolic_mmhg"),
    ],
)
def test_implausible_vitals_are_refused_naming_the_field(values, field):
    vitals = {
        "temperature_c": None,
        "systolic_mmhg": None,
        "diastolic_mmhg": None,
        "pulse_per_minute": None,
        **values,
    }
    with pytest.raises(Refused) as refused:
        check_vitals(**vitals)
    assert refused.value.field == field


# ---- belongings at discharge ---------------------------------------------------


def test_unreturned_belongings_need_their_return_or_a_reason():
    with pytest.raises(Refused) as refused:
        belongings_at_discharge(unreturned=2, belongings_returned=False, belongings_note=None)
    assert refused.value.field == "belongings_returned"
    assert belongings_at_discharge(unreturned=2, belongings_returned=True, belongings_note=None)
    kept = belongings_at_discharge(
        unreturned=2, belongings_returned=False, belongings_note="本人死亡，物品待家属领取"
    )
    assert kept is False


def test_a_stay_without_unreturned_belongings_ends_without_a_word_about_them():
    assert belongings_at_discharge(
        unreturned=0, belongings_returned=False, belongings_note=None
    ) is (False)


# ---- outsourced care -----------------------------------------------------------


def test_only_a_person_in_station_is_placed_in_outsourced_care_once():
    check_outsourced_care_start(person_status="in_station", stay_open=True, placement_open=False)
    for status, stay_open in (("missing", True), ("discharged", False)):
        with pytest.raises(Conflict):
            check_outsourced_care_start(
                person_status=status, stay_open=stay_open, placement_open=False
            )
    with pytest.raises(Conflict) as twice:
        check_outsourced_care_start(person_status="in_station", stay_open=True, placement_open=True)
    assert twice.value.title == "Already in outsourced care"


def test_a_placement_not_visited_for_30_days_is_overdue():
    started = NOW - timedelta(days=45)
    assert VISIT_INTERVAL == timedelta(days=30)
    assert visit_overdue(started, None, NOW)  # never visited
    assert days_since_last_visit(started, None, NOW) == 45
    visited = NOW - timedelta(days=29, hours=23)
    assert not visit_overdue(started, visited, NOW)
    assert days_since_last_visit(started, visited, NOW) == 29
    assert visit_overdue(started, NOW - timedelta(days=30), NOW)
    assert not visit_overdue(NOW - timedelta(days=3), None, NOW)


def test_a_late_entered_older_visit_does_not_replace_the_current_health_status():
    assert visit_is_latest(NOW, None)
    assert visit_is_latest(NOW, NOW - timedelta(days=1))
    assert not visit_is_latest(NOW - timedelta(days=2), NOW - timedelta(days=1))


# ---- the settlement procedure --------------------------------------------------


def step(step, done=(), *, long_stay=True, stay_open=True, on=TODAY):
    return check_settlement_step(
        step, long_stay_reached=long_stay, stay_open=stay_open, done=list(done), on=on, today=TODAY
    )


def test_the_procedure_has_five_steps_in_order():
    assert [s.value for s in STEPS] == [
        "registration_applied",
        "registration_granted",
        "support_applied",
        "support_granted",
        "placed_in_institution",
    ]
    assert next_settlement_step([]) is SettlementStep.REGISTRATION_APPLIED
    assert next_settlement_step(STEPS[:4]) is SettlementStep.PLACED_IN_INSTITUTION
    assert next_settlement_step(STEPS) is None and settlement_complete(STEPS)


def test_steps_are_recorded_in_order_once_the_stay_is_a_long_stay():
    done = []
    for number, s in enumerate(STEPS, start=1):
        assert step(s, done) == number
        done.append((s, TODAY))
    with pytest.raises(Conflict) as complete:
        step(SettlementStep.PLACED_IN_INSTITUTION, done)
    assert complete.value.title == "Settlement complete"


def test_no_step_before_the_long_stay_or_after_the_stay_ended():
    with pytest.raises(Conflict) as early:
        step(SettlementStep.REGISTRATION_APPLIED, long_stay=False)
    assert early.value.title == "Not a long stay"
    with pytest.raises(Conflict):
        step(SettlementStep.REGISTRATION_APPLIED, stay_open=False)


def test_a_step_out_of_order_or_twice_is_a_conflict():
    with pytest.raises(Conflict) as skipped:
        step(SettlementStep.SUPPORT_APPLIED)
    assert skipped.value.title == "Step out of order"
    assert "registration_applied" in skipped.value.detail
    with pytest.raises(Conflict) as twice:
        step(SettlementStep.REGISTRATION_APPLIED, [(SettlementStep.REGISTRATION_APPLIED, TODAY)])
    assert twice.value.title == "Step already recorded"


def test_a_step_dated_in_the_future_or_before_the_previous_one_is_refused():
    with pytest.raises(Refused) as future:
        step(SettlementStep.REGISTRATION_APPLIED, on=TODAY + timedelta(days=1))
    assert future.value.field == "date"
    with pytest.raises(Refused) as backwards:
        step(
            SettlementStep.REGISTRATION_GRANTED,
            [(SettlementStep.REGISTRATION_APPLIED, TODAY)],
            on=TODAY - timedelta(days=1),
        )
    assert backwards.value.field == "date"


def test_discharge_as_settled_needs_the_last_step():
    check_settled_discharge(STEPS)
    with pytest.raises(Conflict) as unfinished:
        check_settled_discharge(STEPS[:4])
    assert "placed_in_institution" in unfinished.value.detail
