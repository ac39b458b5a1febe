"""The center's escalation list (督办): a search task past its deadline (from the
deadline sweep, in its transaction), a long stay and a long hospital stay (from
intake's events) each go on it once, with `deadline_escalated` for partners; a
center coordinator acknowledges them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from rescue_chassis.access import sees_network
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.refusals import Conflict, Forbidden
from rescue_events.contracts.search_escalations import DeadlineEscalatedV1
from search.escalations import EscalationKind, EscalationStatus, overdue_task_kind
from search.tables import SearchCase, SearchTask
from search.tables.escalations import Escalation


class EscalationView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str = Field(
        description="notice_overdue, police_check_overdue, dna_overdue, long_stay or "
        "long_hospital_stay."
    )
    person_id: uuid.UUID
    case_id: uuid.UUID | None
    station_id: str
    source_id: uuid.UUID = Field(description="The search task, stay or hospital placement.")
    due_at: datetime = Field(description="The deadline missed, or when the long stay was reached.")
    opened_at: datetime
    status: str = Field(description="open or acknowledged.")
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledgement_note: str | None


# ---- going on the list ---------------------------------------------------------------


class Escalate(Command):
    """A deadline for the center: what went late, whose, and when it fell due."""

    kind: EscalationKind
    source_id: uuid.UUID
    person_id: uuid.UUID
    station_id: str
    due_at: datetime
    case_id: uuid.UUID | None = None


async def escalate(command: Escalate, uow: UnitOfWork) -> EscalationView | None:
    """The escalation and `deadline_escalated`; None when this deadline is on the list
    already (an event delivered again, a sweep's second look)."""
    if await uow.find(Escalation, kind=command.kind.value, source_id=command.source_id):
        return None
    case_id = command.case_id or await _case_of(uow, command.person_id)
    escalation = Escalation(
        id=uuid.uuid4(),
        kind=command.kind.value,
        source_id=command.source_id,
        person_id=command.person_id,
        case_id=case_id,
        station_id=command.station_id,
        due_at=command.due_at,
        opened_at=uow.now,
        status=EscalationStatus.OPEN.value,
    )
    uow.add(escalation)
    await uow.publish(
        DeadlineEscalatedV1(
            person_id=escalation.person_id,
            escalation_id=escalation.id,
            kind=escalation.kind,
            station_id=escalation.station_id,
            case_id=case_id,
            source_id=escalation.source_id,
            due_at=escalation.due_at,
            escalated_at=uow.now,
        )
    )
    return EscalationView.model_validate(escalation)


async def _case_of(uow: UnitOfWork, person_id: uuid.UUID) -> uuid.UUID | None:
    cases = await uow.find(SearchCase, person_id=person_id)
    return cases[0].id if cases else None


class EscalateOverdueTasks(Command):
    """The tasks the deadline sweep raised overdue at ``raised_at`` (its now)."""

    raised_at: datetime


async def escalate_overdue_tasks(command: EscalateOverdueTasks, uow: UnitOfWork) -> int:
    """Each task the sweep just raised goes on the center's list: how many went."""
    await uow.flush()  # the sweep's overdue_at marks, so the query below sees them
    escalated = 0
    # open: the indexed status narrows the scan (a task raised just now is open)
    for task in await uow.find(SearchTask, status="open", overdue_at=command.raised_at):
        kind = overdue_task_kind(task.kind)
        case = await uow.get(SearchCase, task.case_id)
        if kind is None or case is None:
            continue
        done = await escalate(
            Escalate(
                kind=kind,
                source_id=task.id,
                person_id=case.person_id,
                station_id=task.station_id,
                due_at=task.due_at,
                case_id=case.id,
            ),
            uow,
        )
        escalated += done is not None
    return escalated


# ---- the center's answer -------------------------------------------------------------


class Acknowledgement(BaseModel):
    """A center coordinator has seen the escalation and taken it up."""

    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        default=None,
        description="What the center does about it.",
        examples=["已电话督促固始站当日发布寻亲公告"],
    )


class AcknowledgeEscalation(Acknowledgement, Command):
    escalation_id: uuid.UUID


async def acknowledge_escalation(command: AcknowledgeEscalation, uow: UnitOfWork) -> EscalationView:
    """Taken up by the center: off the open list (acknowledged once)."""
    if not sees_network(uow.actor, uow.network):
        raise Forbidden("Forbidden", "Escalations are acknowledged by the center station.")
    escalation = await uow.load(Escalation, command.escalation_id, what="escalation", lock=True)
    if escalation.status != EscalationStatus.OPEN.value:
        raise Conflict(
            "Already acknowledged",
            f"This escalation was acknowledged by {escalation.acknowledged_by} "
            f"at {escalation.acknowledged_at.isoformat()}.",
        )
    escalation.status = EscalationStatus.ACKNOWLEDGED.value
    escalation.acknowledged_by = uow.actor.subject
    escalation.acknowledged_at = uow.now
    escalation.acknowledgement_note = command.note
    return EscalationView.model_validate(escalation)


# ---- the list ------------------------------------------------------------------------


async def escalation_list(
    uow: UnitOfWork,
    *,
    status: str | None,
    kind: str | None,
    station_id: str | None,
    person_id: uuid.UUID | None,
    limit: int,
) -> list[EscalationView]:
    """The center sees every station's escalations, a station its own; oldest first."""
    query = select(Escalation).order_by(Escalation.opened_at, Escalation.id).limit(limit)
    if not sees_network(uow.actor, uow.network):
        query = query.where(Escalation.station_id == uow.actor.station_id)
    elif station_id:
        query = query.where(Escalation.station_id == station_id)
    if status:
        query = query.where(Escalation.status == status)
    if kind:
        query = query.where(Escalation.kind == kind)
    if person_id:
        query = query.where(Escalation.person_id == person_id)
    found = await uow.session.scalars(query)
    return [EscalationView.model_validate(e) for e in found.all()]
