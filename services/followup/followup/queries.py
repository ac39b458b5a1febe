"""What followup's reading routes ask: each query in the caller's scope, and its
answer shaped into the views. ``uow`` is a reading unit of work (its session, its
actor, its network, its now)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from sqlalchemy import and_, case, cast, exists, func, or_, select
from sqlalchemy.types import Date

from followup.commands.inbound import inbound_view
from followup.commands.records import load_record, town_area
from followup.domain import CHINA, RecordStatus, RevisitStatus, rate
from followup.roster import render_roster
from followup.tables import (
    AtRiskEntry,
    HelpTask,
    InboundReturn,
    RepeatWandering,
    Revisit,
    StabilisationRecord,
)
from followup.views import (
    AtRiskEntryView,
    FiguresRow,
    HelpTaskView,
    InboundReturnView,
    OverdueRevisitView,
    RepeatWanderingView,
    StabilisationView,
    record_view,
)
from rescue_chassis.access import sees_network
from rescue_chassis.commands import UnitOfWork


def scoped(query, uow: UnitOfWork):
    """Records of the caller's station (or escorted by it); the center sees all; a
    town official, the records whose registered home lies in its town or village."""
    area = town_area(uow.actor)
    if area is not None:
        return query.where(StabilisationRecord.home_admin_code.startswith(area))
    if sees_network(uow.actor, uow.network):
        return query
    return query.where(
        or_(
            StabilisationRecord.station_id == uow.actor.station_id,
            StabilisationRecord.escort_station_id == uow.actor.station_id,
        )
    )


def _scoped_entries(query, uow: UnitOfWork):
    if sees_network(uow.actor, uow.network):
        return query
    return query.where(AtRiskEntry.station_id == uow.actor.station_id)


async def stabilisations(
    uow: UnitOfWork,
    person_id: uuid.UUID | None,
    status: RecordStatus | None,
    jurisdiction_code: str | None,
    limit: int,
) -> list[StabilisationView]:
    """The ledger, newest first, with each record's work."""
    query = scoped(
        select(StabilisationRecord).order_by(StabilisationRecord.opened_at.desc()).limit(limit),
        uow,
    )
    if person_id:
        query = query.where(StabilisationRecord.person_id == person_id)
    if status:
        query = query.where(StabilisationRecord.status == status.value)
    if jurisdiction_code:
        query = query.where(StabilisationRecord.jurisdiction_code.startswith(jurisdiction_code))
    return [await record_view(uow, r) for r in (await uow.session.scalars(query)).all()]


async def stabilisation(uow: UnitOfWork, record_id: uuid.UUID) -> StabilisationView:
    """One record with its work, or a 404 outside the caller's scope."""
    return await record_view(uow, await load_record(uow, record_id))


async def inbound_returns(
    uow: UnitOfWork, reference: str | None, limit: int
) -> list[InboundReturnView]:
    """Return notices received from other regions for the caller's station (the
    center: all), newest first, with the record each opened."""
    query = (
        select(InboundReturn, StabilisationRecord.id)
        .outerjoin(StabilisationRecord, StabilisationRecord.inbound_return_id == InboundReturn.id)
        .order_by(InboundReturn.received_at.desc())
        .limit(limit)
    )
    if not sees_network(uow.actor, uow.network):
        query = query.where(InboundReturn.station_id == uow.actor.station_id)
    if reference:
        query = query.where(InboundReturn.reference == reference)
    rows = (await uow.session.execute(query)).all()
    return [inbound_view(uow, inbound, record_id) for inbound, record_id in rows]


async def help_tasks(uow: UnitOfWork, status: str | None) -> list[HelpTaskView]:
    """Help tasks of the records in scope, oldest first; ``status``: only those."""
    query = scoped(
        select(HelpTask)
        .join(StabilisationRecord, StabilisationRecord.id == HelpTask.record_id)
        .order_by(HelpTask.opened_at),
        uow,
    )
    if status:
        query = query.where(HelpTask.status == status)
    return [HelpTaskView.model_validate(t) for t in (await uow.session.scalars(query)).all()]


async def overdue_revisits(
    uow: UnitOfWork, level: Literal["overdue", "escalated"] | None, limit: int
) -> list[OverdueRevisitView]:
    """Overdue revisits of active records in scope, the longest due first."""
    query = scoped(
        select(Revisit, StabilisationRecord)
        .join(StabilisationRecord, StabilisationRecord.id == Revisit.record_id)
        .where(
            Revisit.status == RevisitStatus.OVERDUE.value,
            StabilisationRecord.status == RecordStatus.ACTIVE.value,
        )
        .order_by(Revisit.due_on)
        .limit(limit),
        uow,
    )
    if level == "escalated":
        query = query.where(Revisit.escalated_at.is_not(None))
    return [
        OverdueRevisitView(
            record_id=record.id,
            person_id=record.person_id,
            full_name=record.full_name,
            station_id=record.station_id,
            sequence=revisit.sequence,
            due_on=revisit.due_on,
            assigned_to=revisit.assigned_to,
            overdue_at=revisit.overdue_at,
            escalated_at=revisit.escalated_at,
        )
        for revisit, record in (await uow.session.execute(query)).all()
    ]


async def register(
    uow: UnitOfWork, jurisdiction_code: str | None, person_id: uuid.UUID | None
) -> list[AtRiskEntryView]:
    """Entries of the at-risk register in scope, in the order they were made."""
    query = _scoped_entries(select(AtRiskEntry).order_by(AtRiskEntry.registered_at), uow)
    if jurisdiction_code:
        query = query.where(AtRiskEntry.jurisdiction_code.startswith(jurisdiction_code))
    if person_id:
        query = query.where(AtRiskEntry.person_id == person_id)
    return [AtRiskEntryView.model_validate(e) for e in (await uow.session.scalars(query)).all()]


async def town_roster(uow: UnitOfWork, jurisdiction_code: str) -> str:
    """The roster page of the active records registered in a town or county."""
    next_due = (
        select(func.min(Revisit.due_on))
        .where(
            Revisit.record_id == StabilisationRecord.id,
            Revisit.status != RevisitStatus.DONE.value,
        )
        .scalar_subquery()
    )
    query = _scoped_entries(
        select(AtRiskEntry, StabilisationRecord, next_due)
        .join(StabilisationRecord, StabilisationRecord.id == AtRiskEntry.record_id)
        .where(
            AtRiskEntry.jurisdiction_code.startswith(jurisdiction_code),
            StabilisationRecord.status == RecordStatus.ACTIVE.value,
        )
        .order_by(StabilisationRecord.full_name),
        uow,
    )
    rows = [
        {
            "full_name": record.full_name,
            "home_address": record.home_address,
            "reasons": entry.reasons,
            "handed_over_at": record.handed_over_at,
            "next_due": due,
            "station": _station_name(uow, record.station_id),
        }
        for entry, record, due in (await uow.session.execute(query)).all()
    ]
    return render_roster(jurisdiction_code, rows, uow.now)


def _station_name(uow: UnitOfWork, station_id: str) -> str:
    station = uow.network.station(station_id)
    return station.name if station else station_id


async def repeat_wanderings(uow: UnitOfWork) -> list[RepeatWanderingView]:
    """Repeat wanderings seen by their origin or admitting station, newest first."""
    query = (
        select(RepeatWandering, StabilisationRecord)
        .join(StabilisationRecord, StabilisationRecord.id == RepeatWandering.record_id)
        .order_by(RepeatWandering.flagged_at.desc())
    )
    if not sees_network(uow.actor, uow.network):
        query = query.where(
            or_(
                RepeatWandering.origin_station_id == uow.actor.station_id,
                RepeatWandering.admitting_station_id == uow.actor.station_id,
            )
        )
    return [
        RepeatWanderingView(
            id=flag.id,
            record_id=record.id,
            person_id=flag.person_id,
            earlier_person_id=record.person_id,
            full_name=record.full_name,
            origin_station_id=flag.origin_station_id,
            admitting_station_id=flag.admitting_station_id,
            basis=flag.basis,
            flagged_at=flag.flagged_at,
        )
        for flag, record in (await uow.session.execute(query)).all()
    ]


async def figures(
    uow: UnitOfWork, period_start: date, period_end: date, level: Literal["town", "county"]
) -> list[FiguresRow]:
    """Per town or county: returned persons and repeat wanderers among them (by
    hand-over day in the period); revisits due in the period up to today, made and
    made on time."""
    today = uow.now.astimezone(CHINA).date()
    code = StabilisationRecord.jurisdiction_code
    key = func.coalesce(code if level == "town" else func.substr(code, 1, 6), "unknown")
    handed_over_on = cast(func.timezone("Asia/Shanghai", StabilisationRecord.handed_over_at), Date)
    flagged = exists().where(RepeatWandering.record_id == StabilisationRecord.id)

    returned = scoped(
        select(
            key.label("key"),
            func.count().label("returned"),
            func.count().filter(flagged).label("repeat"),
        )
        .where(handed_over_on.between(period_start, period_end))
        .group_by(key),
        uow,
    )
    done = Revisit.status == RevisitStatus.DONE.value
    revisits = scoped(
        select(
            key.label("key"),
            func.count().label("due"),
            func.count().filter(done).label("made"),
            func.sum(case((and_(done, Revisit.visited_on <= Revisit.due_on), 1), else_=0)).label(
                "on_time"
            ),
        )
        .join(StabilisationRecord, StabilisationRecord.id == Revisit.record_id)
        .where(Revisit.due_on.between(period_start, min(period_end, today)))
        .group_by(key),
        uow,
    )
    rows: dict[str, dict] = {}
    for key_, returned_, repeat in (await uow.session.execute(returned)).all():
        rows.setdefault(key_, {}).update(returned=returned_, repeat=repeat)
    for key_, due, made, on_time in (await uow.session.execute(revisits)).all():
        rows.setdefault(key_, {}).update(due=due, made=made, on_time=on_time or 0)
    return [
        FiguresRow(
            jurisdiction_code=key_,
            returned=r.get("returned", 0),
            repeat_wanderers=r.get("repeat", 0),
            repeat_wandering_rate=rate(r.get("repeat", 0), r.get("returned", 0)),
            revisits_due=r.get("due", 0),
            revisits_made=r.get("made", 0),
            revisits_on_time=r.get("on_time", 0),
            revisit_compliance=rate(r.get("on_time", 0), r.get("due", 0)),
        )
        for key_, r in sorted(rows.items())
    ]
