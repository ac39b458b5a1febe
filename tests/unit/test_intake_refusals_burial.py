"""Refusals of help linked to a person and counted, and the burial of a person who
died (issue 25), on an in-memory unit of work (rescue_chassis.testing)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from intake import refusal_names
from intake.commands.burial import (
    CorrectBurial,
    RecordBurial,
    burial_of,
    correct_burial,
    record_burial,
)
from intake.commands.refusals import LinkRefusal, RecordRefusal, link_refusal, record_refusal
from intake.refusal_names import NamedPerson, name_key
from intake.refusal_views import person_refusals
from intake.tables import Person, Refusal, Stay
from intake.tables.burial import Burial
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts.intake_arrivals import HelpRefusedV1, RefusalLinkedV1
from rescue_events.contracts.intake_care import BurialRecordedV1, RemainsHandling

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DIED = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 11:00 in the stations' day, 2026-12-01


def worker(station_id: str = "gushi") -> Principal:
    return Principal(subject="w1", station_id=station_id, roles=frozenset({"station_staff"}))


def fake(*rows, station_id: str = "gushi") -> FakeUnitOfWork:
    return FakeUnitOfWork(actor=worker(station_id), rows=rows, now=NOW)


def person(station_id: str = "gushi", *, ended: str | None = None, **fields) -> tuple[Person, Stay]:
    person_id, stay_id = uuid.uuid4(), uuid.uuid4()
    stay = Stay(
        id=stay_id,
        person_id=person_id,
        sequence=1,
        station_id=station_id,
        arrival_route="own_request",
        arrived_at=DIED - timedelta(days=20),
        admitted_at=DIED - timedelta(days=20),
        admitted_by="w0",
        discharged_at=DIED if ended else None,
        discharge_reason=ended,
    )
    record = Person(
        id=person_id,
        station_id=station_id,
        status="discharged" if ended else "in_station",
        current_stay_id=stay_id,
        identity_status="unknown",
        sex="male",
        stated_names=[],
        stated_places=[],
        categories=[],
        **fields,
    )
    return record, stay


def refusal(
    station_id: str = "gushi", name: str | None = None, person_id: uuid.UUID | None = None
) -> Refusal:
    person_id = person_id or uuid.uuid4()
    return Refusal(
        id=uuid.uuid4(),
        person_id=person_id,
        first_person_id=person_id,
        station_id=station_id,
        found_place="固始县汽车站",
        found_at=NOW - timedelta(days=1),
        description="男，约50岁",
        name=name,
        name_key=name_key(name),
        advice_given="告知求助热线",
        recorded_by="王晓红",
        recorded_at=NOW - timedelta(days=1),
        entered_by="w0",
    )


def met(**fields) -> RecordRefusal:
    return RecordRefusal(
        found_place="固始县人民广场",
        description="男，约50岁，神志清楚",
        advice_given="告知可随时到站求助",
        recorded_by="王晓红",
        **fields,
    )


@pytest.fixture
def no_person_records(monkeypatch):
    """The person records' name lookup (SQL) finds nobody, and records it was asked."""
    asked: list[str] = []

    async def persons_named(uow, key, limit):
        asked.append(key)
        return []

    monkeypatch.setattr(refusal_names, "persons_named", persons_named)
    return asked


# ---- names -----------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["李四", "李 四", "李\u3000四", " 李·四 ", "李四\t"])
def test_a_name_is_compared_without_spaces_and_separators(typed):
    assert name_key(typed) == "李四"


def test_a_latin_name_is_compared_in_lowercase_and_nothing_is_no_name():
    assert name_key("Li Si") == name_key("li-si") == name_key("ＬＩ ＳＩ") == "lisi"
    assert name_key(" · ") is None and name_key(None) is None
    assert name_key("李四") != name_key("李思")


# ---- a refusal names a known person ------------------------------------------------------


async def test_a_refusal_naming_another_stations_person_record_is_that_persons(no_person_records):
    known, stay = person("xixian")
    uow = fake(known, stay)

    view = await record_refusal(met(name="李四", person_id=known.id), uow)

    [made] = uow.all(Refusal)
    assert (made.person_id, made.first_person_id, made.linked_at) == (known.id, known.id, NOW)
    assert view.person_id == known.id and view.possible_matches == []
    assert no_person_records == []  # linked by staff: no suggestion is looked for
    [event] = uow.events
    assert isinstance(event, HelpRefusedV1)
    assert (event.person_id, event.person_linked, event.refusal_count) == (known.id, True, 1)


async def test_a_refusal_naming_a_person_met_in_earlier_refusals_counts_them():
    first = refusal()
    uow = fake(first, refusal("xixian", person_id=first.person_id))

    await record_refusal(met(person_id=first.person_id), uow)

    [event] = uow.events
    assert (event.person_id, event.refusal_count) == (first.person_id, 3)
    assert {r.person_id for r in uow.all(Refusal)} == {first.person_id}


async def test_a_refusal_naming_a_person_the_network_does_not_know_is_a_404():
    uow = fake(refusal())

    with pytest.raises(NotFound) as missing:
        await record_refusal(met(person_id=uuid.uuid4()), uow)
    assert missing.value.what == "person"
    assert len(uow.all(Refusal)) == 1 and uow.events == []


# ---- otherwise intake suggests who it may be, by name ------------------------------------


async def test_an_unlinked_refusal_gets_a_new_id_and_the_earlier_refusals_of_that_name(
    monkeypatch,
):
    known = NamedPerson(id=uuid.uuid4(), station_id="gushi", name="李 四")

    async def persons_named(uow, key, limit):
        assert key == "李四"
        return [known]

    monkeypatch.setattr(refusal_names, "persons_named", persons_named)
    same = refusal(name="李·四")
    other_name = refusal(name="王五")
    elsewhere = refusal("xixian", name="李四")  # another station's: not the caller's to see
    uow = fake(same, other_name, elsewhere)

    view = await record_refusal(met(name="李四"), uow)

    assert view.person_id not in {same.person_id, known.id} and view.linked_at is None
    assert [(m.kind, m.person_id, m.refusal_id, m.name) for m in view.possible_matches] == [
        ("person", known.id, None, "李 四"),
        ("refusal", same.person_id, same.id, "李·四"),
    ]
    [event] = uow.events
    assert (event.person_id, event.person_linked, event.refusal_count) == (
        view.person_id,
        False,
        None,
    )


async def test_a_refusal_without_a_name_gets_no_suggestion(no_person_records):
    view = await record_refusal(met(), fake(refusal(name="李四")))

    assert view.possible_matches == [] and no_person_records == []


# ---- linking afterwards ------------------------------------------------------------------


async def test_a_refusal_linked_afterwards_to_a_person_record_is_counted_on_it():
    known, stay = person("xixian")  # any station's record, as a readmission may name it
    earlier = refusal(person_id=known.id)
    later = refusal()
    minted = later.person_id
    uow = fake(known, stay, earlier, later)

    answer = await link_refusal(LinkRefusal(refusal_id=later.id, person_id=known.id), uow)

    assert (later.person_id, later.first_person_id, later.linked_at) == (known.id, minted, NOW)
    assert (answer.person_id, answer.count, answer.repeated, answer.person_record) == (
        known.id,
        2,
        True,
        True,
    )
    assert {r.id for r in answer.refusals} == {earlier.id, later.id}
    [event] = uow.events
    assert isinstance(event, RefusalLinkedV1)
    assert (event.person_id, event.previous_person_id, event.refusal_id) == (
        known.id,
        minted,
        later.id,
    )
    assert event.refusal_count == 2


async def test_a_refusal_linked_to_an_earlier_refusal_takes_its_person():
    earlier, later = refusal(name="李四"), refusal(name="李四")
    uow = fake(earlier, later)

    answer = await link_refusal(
        LinkRefusal(refusal_id=later.id, earlier_refusal_id=earlier.id), uow
    )

    assert later.person_id == earlier.person_id and answer.count == 2
    assert answer.person_record is False


async def test_a_person_known_only_from_refusals_moves_whole_to_the_record():
    known, stay = person()
    first = refusal()
    second = refusal(person_id=first.person_id)  # linked to the first earlier
    uow = fake(known, stay, first, second)

    answer = await link_refusal(LinkRefusal(refusal_id=first.id, person_id=known.id), uow)

    assert (first.person_id, second.person_id, answer.count) == (known.id, known.id, 2)
    assert {e.refusal_id for e in uow.events} == {first.id, second.id}


async def test_a_refusal_linked_to_the_wrong_record_moves_alone_to_the_right_one():
    wrong, wrong_stay = person()
    right, right_stay = person()
    mistaken, other = refusal(person_id=wrong.id), refusal(person_id=wrong.id)
    uow = fake(wrong, wrong_stay, right, right_stay, mistaken, other)

    await link_refusal(LinkRefusal(refusal_id=mistaken.id, person_id=right.id), uow)

    assert (mistaken.person_id, other.person_id) == (right.id, wrong.id)
    [event] = uow.events
    assert (event.previous_person_id, event.refusal_count) == (wrong.id, 1)


@pytest.mark.parametrize("both", [True, False])
async def test_a_link_names_a_person_or_an_earlier_refusal_not_both_nor_neither(both):
    earlier, later = refusal(), refusal()
    link = LinkRefusal(
        refusal_id=later.id,
        person_id=earlier.person_id if both else None,
        earlier_refusal_id=earlier.id if both else None,
    )

    with pytest.raises(Refused) as refused:
        await link_refusal(link, fake(earlier, later))
    assert refused.value.field == "person_id"


async def test_a_refusal_linked_again_to_its_person_is_a_409_and_nothing_goes_out():
    known, stay = person()
    linked = refusal(person_id=known.id)
    uow = fake(known, stay, linked)

    with pytest.raises(Conflict):
        await link_refusal(LinkRefusal(refusal_id=linked.id, person_id=known.id), uow)
    assert uow.events == []


async def test_another_stations_refusal_is_not_the_callers_to_link():
    known, stay = person()
    theirs = refusal("xixian")
    uow = fake(known, stay, theirs)

    with pytest.raises(NotFound):
        await link_refusal(LinkRefusal(refusal_id=theirs.id, person_id=known.id), uow)
    with pytest.raises(NotFound):
        await link_refusal(
            LinkRefusal(refusal_id=refusal().id, person_id=uuid.uuid4()),
            fake(known, stay, refusal()),
        )
    assert theirs.person_id != known.id


async def test_a_persons_refusals_are_counted_in_the_network_and_listed_as_far_as_seen():
    mine = refusal()
    theirs = refusal("xixian", person_id=mine.person_id)

    seen = await person_refusals(fake(mine, theirs), mine.person_id)
    assert (seen.count, [r.id for r in seen.refusals]) == (2, [mine.id])
    everything = await person_refusals(fake(mine, theirs, station_id="center"), mine.person_id)
    assert {r.id for r in everything.refusals} == {mine.id, theirs.id}
    with pytest.raises(NotFound):
        await person_refusals(fake(theirs), theirs.person_id)


def test_a_help_refused_of_an_older_producer_still_reads():
    event = HelpRefusedV1.model_validate(
        {
            "person_id": str(uuid.uuid4()),
            "refusal_id": str(uuid.uuid4()),
            "station_id": "gushi",
            "found_place": "固始县汽车站",
            "found_at": "2026-12-01T21:00:00+08:00",
        }
    )
    assert (event.person_linked, event.refusal_count) == (False, None)


# ---- burial ------------------------------------------------------------------------------


def burial(person_id: uuid.UUID, **fields) -> RecordBurial:
    return RecordBurial(
        person_id=person_id,
        **{
            "buried_on": date(2026, 12, 3),
            "remains": "cremated_ashes_kept",
            "funeral_home": "固始县殡仪馆",
            "certificate_reference": "豫火化〔2026〕0381号",
            "photo_kept": True,
            "dna_kept": True,
            **fields,
        },
    )


async def test_the_burial_of_a_person_who_died_is_recorded_and_announced():
    died, stay = person(ended="died")
    uow = fake(died, stay)

    view = await record_burial(burial(died.id, note="骨灰寄存，待家属认领"), uow)

    [kept] = uow.all(Burial)
    assert (kept.stay_id, kept.station_id, kept.remains) == (
        stay.id,
        "gushi",
        "cremated_ashes_kept",
    )
    assert (view.buried_on, view.funeral_home, view.recorded_at) == (
        date(2026, 12, 3),
        "固始县殡仪馆",
        NOW,
    )
    [event] = uow.events
    assert isinstance(event, BurialRecordedV1)
    assert (event.person_id, event.stay_id, event.remains, event.corrected) == (
        died.id,
        stay.id,
        RemainsHandling.CREMATED_ASHES_KEPT,
        False,
    )
    assert (event.photo_kept, event.dna_kept, event.certificate_reference) == (
        True,
        True,
        "豫火化〔2026〕0381号",
    )
    assert (await burial_of(uow, died.id)).certificate_reference == "豫火化〔2026〕0381号"


@pytest.mark.parametrize("ended", ["returned_home", "settled", "left", None])
async def test_no_burial_is_recorded_for_a_person_whose_last_stay_did_not_end_in_death(ended):
    alive, stay = person(ended=ended)
    uow = fake(alive, stay)

    with pytest.raises(Conflict) as conflict:
        await record_burial(burial(alive.id), uow)
    assert conflict.value.status == 409
    assert uow.all(Burial) == [] and uow.events == []


async def test_a_second_burial_record_is_a_409_and_a_correction_replaces_it_saying_why():
    died, stay = person(ended="died")
    uow = fake(died, stay)
    await record_burial(burial(died.id), uow)

    with pytest.raises(Conflict):
        await record_burial(burial(died.id, remains="buried", cemetery="固始县公墓"), uow)
    corrected = await correct_burial(
        CorrectBurial(
            **dict(burial(died.id, certificate_reference="豫火化〔2026〕0383号")),
            correction_note="火化证明编号录入有误",
        ),
        uow,
    )

    [kept] = uow.all(Burial)
    assert (kept.certificate_reference, kept.corrected_at, corrected.correction_note) == (
        "豫火化〔2026〕0383号",
        NOW,
        "火化证明编号录入有误",
    )
    assert [e.corrected for e in uow.events] == [False, True]


async def test_a_correction_without_a_record_is_a_404():
    died, stay = person(ended="died")
    with pytest.raises(NotFound):
        await correct_burial(
            CorrectBurial(**dict(burial(died.id)), correction_note="x"), fake(died, stay)
        )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"funeral_home": None}, "cemetery"),
        ({"buried_on": date(2026, 11, 30)}, "buried_on"),
    ],
)
async def test_a_burial_names_where_the_remains_are_and_follows_the_death(fields, field):
    died, stay = person(ended="died")
    uow = fake(died, stay)

    with pytest.raises(Refused) as refused:
        await record_burial(burial(died.id, **fields), uow)
    assert refused.value.field == field
    assert uow.all(Burial) == []


async def test_the_day_of_death_itself_may_be_the_burial_day():
    died, stay = person(ended="died")
    view = await record_burial(burial(died.id, buried_on=date(2026, 12, 1)), fake(died, stay))
    assert view.buried_on == date(2026, 12, 1)


async def test_another_stations_dead_are_not_the_callers_to_bury():
    died, stay = person("xixian", ended="died")
    uow = fake(died, stay)

    with pytest.raises(NotFound):
        await record_burial(burial(died.id), uow)
    with pytest.raises(NotFound):
        await burial_of(fake(died, stay, station_id="xixian"), died.id)  # none recorded
