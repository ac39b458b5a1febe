"""A stay's ending and what it does to the person's search (DOMAIN.md, "The life of a
case", 3, 4 and 7): every ending has its rules.

- returned_home: the person is home; open tasks close, notices come down.
- settled, died (while unidentified): the search for the family goes on; notices
  stay up, photo, DNA samples and face enrolment are kept, and every task stays
  open (a DNA sample and a police check are still possible: of the remains, by the
  photo). The ending is recorded on the case. A death turns each notice up into a
  deceased-person notice (死亡人员寻亲公告: re-issued, the old one superseded),
  which says where the remains are once intake records the burial
  (``record_remains``).
- left (of their own will): the person may come back, and a family may still
  learn where they were; notices stay, the police check (by photo) and the notice
  task stay open, and the DNA sample, which needs the person there, closes.
- transferred to a station of the network: nothing closes; the admission there
  moves the case (search.commands.cases.follow_person).
- transferred outside the network (a hospital, an institution): open tasks close,
  notices stay until the person is identified.

A task closed by an ending opens again, with its first deadline, if the person is
admitted again (``follow_person``). An identified case is left as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from rescue_chassis.commands import Command, UnitOfWork
from rescue_events.contracts import DischargeReason, PersonDischargedV1
from rescue_events.contracts.intake_care import BurialRecordedV1
from rescue_events.contracts.search_notices import NoticePurpose
from search import notices, tasks
from search.commands.cases import CaseView
from search.domain import TaskKind
from search.tables import SearchCase


@dataclass(frozen=True)
class EndingRule:
    closes: frozenset[TaskKind]  # the tasks that can no longer be done
    closed_reason: str | None
    notices_down: bool
    deceased_notice: bool = False  # each notice up becomes a deceased-person notice


EVERY_TASK = frozenset(TaskKind)
NOTHING = EndingRule(frozenset(), None, notices_down=False)


def ending_rule(reason: DischargeReason, to_network_station: bool) -> EndingRule:
    """What an ending of an unidentified person's stay does to the search (no I/O)."""
    if reason is DischargeReason.RETURNED_HOME:
        return EndingRule(EVERY_TASK, "returned_home", notices_down=True)
    if reason is DischargeReason.LEFT:
        return EndingRule(frozenset({TaskKind.DNA_SAMPLE}), "left", notices_down=False)
    if reason is DischargeReason.TRANSFERRED and not to_network_station:
        return EndingRule(EVERY_TASK, "transferred_out", notices_down=False)
    if reason is DischargeReason.DIED:
        return EndingRule(frozenset(), None, notices_down=False, deceased_notice=True)
    return NOTHING  # settled, transferred within the network: the search goes on


class EndStay(Command):
    """A stay ended (person_discharged): what search needs of it."""

    person_id: uuid.UUID
    station_id: str
    reason: DischargeReason
    discharged_at: datetime
    transferred_to: str | None = None
    transferred_to_station_id: str | None = None

    @classmethod
    def of(cls, discharged: PersonDischargedV1) -> EndStay:
        return cls(
            person_id=discharged.person_id,
            station_id=discharged.station_id,
            reason=discharged.reason,
            discharged_at=discharged.discharged_at,
            transferred_to=discharged.transferred_to,
            transferred_to_station_id=getattr(discharged, "transferred_to_station_id", None),
        )


async def end_stay(command: EndStay, uow: UnitOfWork) -> CaseView | None:
    """The ending's rules applied to the person's case (``ending_rule``); None when
    the person has no case. A discharge from a station that no longer has the case
    (the person is admitted elsewhere since) changes nothing."""
    found = await uow.find(SearchCase, person_id=command.person_id, lock=True)
    if not found:
        return None
    case = found[0]
    if case.status != "open" or case.station_id != command.station_id:
        return CaseView.of(case)
    to_station = command.transferred_to_station_id or command.transferred_to
    rule = ending_rule(
        command.reason, to_station is not None and uow.network.station(to_station) is not None
    )
    case.ending = command.reason.value
    case.ended_at = command.discharged_at
    if rule.closes and rule.closed_reason:
        await tasks.cancel_open_tasks(uow, case.id, rule.closed_reason, rule.closes)
    if rule.notices_down:
        await notices.take_down_notices(uow, case, f"person_discharged:{command.reason.value}")
    if rule.deceased_notice:
        station = uow.network.station(case.station_id)
        in_care_of = station.name if station else case.station_id

        def deceased(payload: dict) -> dict | None:
            if notices.purpose_of(payload) is NoticePurpose.DECEASED:
                return None  # a redelivered ending: already said
            return notices.deceased_description(
                payload, died_at=command.discharged_at, in_care_of=in_care_of
            )

        await notices.reissue(uow, case, "deceased", deceased)
    return CaseView.of(case)


class RecordRemains(Command):
    """Where the remains of a person who died are (burial_recorded)."""

    person_id: uuid.UUID
    handling: str
    buried_on: date
    cemetery: str | None = None
    funeral_home: str | None = None
    photo_kept: bool = False
    dna_kept: bool = False

    @classmethod
    def of(cls, burial: BurialRecordedV1) -> RecordRemains:
        return cls(
            person_id=burial.person_id,
            handling=burial.remains.value,
            buried_on=burial.buried_on,
            cemetery=burial.cemetery,
            funeral_home=burial.funeral_home,
            photo_kept=burial.photo_kept,
            dna_kept=burial.dna_kept,
        )


async def record_remains(command: RecordRemains, uow: UnitOfWork) -> list[uuid.UUID]:
    """Each deceased-person notice up re-issued saying where the remains are (a
    corrected burial record re-issues it again); the new notices' ids."""
    found = await uow.find(SearchCase, person_id=command.person_id, lock=True)
    if not found or found[0].ending != DischargeReason.DIED.value:
        return []

    def remains(payload: dict) -> dict | None:
        if notices.purpose_of(payload) is not NoticePurpose.DECEASED:
            return None
        told = notices.with_remains(
            payload,
            handling=command.handling,
            buried_on=command.buried_on,
            cemetery=command.cemetery,
            funeral_home=command.funeral_home,
            photo_kept=command.photo_kept,
            dna_kept=command.dna_kept,
        )
        return None if told == payload else told  # a redelivery: nothing new to say

    return await notices.reissue(uow, found[0], "burial_recorded", remains)
