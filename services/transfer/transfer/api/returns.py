"""Returns home: the planning view, fitness, the handover receipt, refusals, the notice."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from sqlalchemy import or_, select

from rescue_chassis.access import STATION_WORK, ensure_known_station, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_divisions.fields import (
    DocumentNumber,
    HomeAdminCode,
    checked_national_id,
    home_in_province,
)
from rescue_events.contracts import (
    HandoverRefusedV1,
    PersonHandedOverV1,
    ReceiverKind,
    ReturnNoticeIssuedV1,
)
from transfer.api.common import conflict, ensure_escorting_station, load_return, refused
from transfer.domain import PlanningRefused, ReturnStatus, decode_signature
from transfer.handlers import open_return
from transfer.notice import addressee, render_notice
from transfer.settle import close_escort_if_finished
from transfer.tables import Escalation, Escort, Return, ReturnNotice, Traveller, tables
from transfer.views import PlanningGroup, ReturnView

router = APIRouter(prefix="/returns", tags=["returns"], dependencies=[require_roles(*STATION_WORK)])

# Where refusals go (流出地拒不接收 → 上级民政部门).
HIGHER_LEVEL = "上级民政部门 (higher civil-affairs level)"


def view(r: Return) -> ReturnView:
    return ReturnView.model_validate(r, from_attributes=True)


class ReturnOpening(BaseModel):
    """A return opened by staff decision, e.g. a person who knows who they are."""

    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID
    full_name: str = Field(min_length=1, max_length=100, examples=["李建国"])
    home_province: str = Field(min_length=2, max_length=50, examples=["四川省"])
    home_address: str = Field(min_length=1, max_length=300, examples=["四川省南充市仪陇县"])
    home_admin_code: HomeAdminCode | None = Field(
        default=None,
        description="The home's county (6 digits), town (9) or village (12) code, current or "
        "former (kept as given), in home_province.",
        examples=["511324"],
    )

    _home_in_province = field_validator("home_admin_code")(home_in_province("home_province"))


class Fitness(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fit_to_travel: StrictBool
    medical_escort_required: StrictBool = False
    note: str | None = Field(default=None, max_length=500, examples=["血压平稳，可乘火车"])


class HandoverReceipt(BaseModel):
    """The signed handover (交接) to the family or the receiving station."""

    model_config = ConfigDict(extra="forbid")

    receiver_kind: ReceiverKind
    received_by: str = Field(min_length=1, max_length=100, examples=["李红"])
    relation: str | None = Field(default=None, max_length=50, examples=["daughter"])
    id_document_type: Literal["resident_id_card", "household_register", "passport", "other", "none"]
    id_document_number: DocumentNumber | None = Field(
        default=None,
        description="A resident_id_card's number is checked (GB 11643); full-width digits, "
        "spaces and a lower-case x are read as meant.",
    )
    place: str = Field(min_length=1, max_length=300, examples=["四川省南充市仪陇县马鞍镇"])
    handed_over_at: PastInstant | None = None
    signature_png: str = Field(
        min_length=12, max_length=360_000, description="The receiver's signature, base64 PNG."
    )

    @field_validator("id_document_number")
    @classmethod
    def _resident_id_card(cls, number: str | None, info: ValidationInfo) -> str | None:
        if number is not None and info.data.get("id_document_type") == "resident_id_card":
            return checked_national_id(number)
        return number


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refused_by: str = Field(min_length=1, max_length=200, examples=["马鞍镇人民政府"])
    reason: str = Field(min_length=1, max_length=2000)
    refused_at: PastInstant | None = None


@router.get("", response_model=list[ReturnView])
async def list_returns(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    status: ReturnStatus | None = None,
    escort_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Returns of the caller's station or escorted by it (the center sees all)."""
    query = select(Return).order_by(Return.opened_at.desc()).limit(limit)
    if not sees_network(principal, runtime.network):
        query = query.where(
            or_(
                Return.station_id == principal.station_id,
                Return.escort_station_id == principal.station_id,
            )
        )
    if person_id:
        query = query.where(Return.person_id == person_id)
    if status:
        query = query.where(Return.status == status.value)
    if escort_id:
        query = query.where(Return.escort_id == escort_id)
    return [view(r) for r in (await session.scalars(query)).all()]


@router.get("/planning", response_model=list[PlanningGroup])
async def planning_view(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep):
    """Pending returns the caller's station escorts, grouped by destination province:
    the center plans batches from here."""
    query = (
        select(Return)
        .where(
            Return.status == ReturnStatus.PENDING.value,
            Return.escort_station_id == principal.station_id,
        )
        .order_by(Return.destination_province, Return.opened_at)
    )
    groups: dict[str, list[ReturnView]] = defaultdict(list)
    for r in (await session.scalars(query)).all():
        groups[r.destination_province].append(view(r))
    return [
        PlanningGroup(destination_province=p, pending=len(rs), returns=rs)
        for p, rs in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    ]


@router.post("", status_code=201, response_model=ReturnView)
async def open_return_by_staff_decision(
    opening: ReturnOpening, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    ensure_known_station(principal, runtime.network)
    if await session.scalar(select(Return.id).where(Return.person_id == opening.person_id)):
        raise conflict("Return exists", "This person already has a return.")
    opened = await open_return(
        session,
        runtime,
        person_id=opening.person_id,
        station_id=principal.station_id,
        full_name=opening.full_name,
        home_province=opening.home_province,
        home_address=opening.home_address,
        home_admin_code=opening.home_admin_code,
        opened_by=principal.subject,
    )
    await session.commit()
    return view(opened)


@router.get("/{return_id}", response_model=ReturnView)
async def get_return(
    return_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return view(await load_return(session, runtime, principal, return_id))


@router.post("/{return_id}/fitness", response_model=ReturnView)
async def record_fitness(
    return_id: uuid.UUID,
    fitness: Fitness,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The caring station records whether the person is fit to travel."""
    found = await load_return(session, runtime, principal, return_id, for_update=True)
    if principal.station_id not in (found.station_id, found.escort_station_id):
        raise Problem(403, "Forbidden", "Only the caring or escorting station records fitness.")
    if found.status not in (ReturnStatus.PENDING.value, ReturnStatus.PLANNED.value):
        raise conflict("Too late", f"The return is {found.status}.")
    found.fit_to_travel = fitness.fit_to_travel
    found.medical_escort_required = fitness.medical_escort_required
    found.fitness_note = fitness.note
    result = view(found)
    await session.commit()
    return result


@router.post("/{return_id}/handover", response_model=ReturnView)
async def record_handover(
    return_id: uuid.UUID,
    receipt: HandoverReceipt,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """The signed handover at home; issues the written notice to the origin
    (`person_handed_over`, `return_notice_issued`)."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, receipt
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    found = await load_return(session, runtime, principal, return_id, for_update=True)
    ensure_escorting_station(principal, found.escort_station_id)
    if found.status != ReturnStatus.IN_TRANSIT.value:
        raise conflict(
            "Not on the way", f"The return is {found.status}; the escort must depart first."
        )
    now = datetime.now(UTC)
    handed_over_at = receipt.handed_over_at or now
    if handed_over_at > now:
        raise invalid("handed_over_at", "lies in the future")
    if receipt.id_document_type != "none" and not receipt.id_document_number:
        raise invalid("id_document_number", "is required with an identity document")
    try:
        signature = decode_signature(receipt.signature_png)
    except PlanningRefused as error:
        raise refused(error) from None

    found.status = ReturnStatus.HANDED_OVER.value
    found.handed_over_at = handed_over_at
    found.receiver_kind = receipt.receiver_kind.value
    found.received_by = receipt.received_by
    found.relation = receipt.relation
    found.receiver_id_document_type = receipt.id_document_type
    found.receiver_id_document_number = receipt.id_document_number
    found.handover_place = receipt.place
    found.signature_png = signature
    found.handover_recorded_by = principal.subject
    await runtime.outbox.stage(
        session,
        PersonHandedOverV1(
            person_id=found.person_id,
            return_id=found.id,
            station_id=found.station_id,
            escort_station_id=found.escort_station_id,
            handed_over_at=handed_over_at,
            receiver_kind=receipt.receiver_kind,
            received_by=receipt.received_by,
            relation=receipt.relation,
            destination_province=found.destination_province,
            home_address=found.home_address,
            home_admin_code=found.home_admin_code,
            full_name=found.full_name,
        ),
    )
    await issue_notice(session, runtime, found, now)
    await close_escort_if_finished(session, found.escort_id, now)
    result = view(found)
    await idem.remember(session, 200, result.model_dump(mode="json"))
    await session.commit()
    return result


async def issue_notice(session, runtime, returned: Return, now: datetime) -> None:
    traveller = await session.get(Traveller, returned.person_id)
    escort = await session.get(Escort, returned.escort_id) if returned.escort_id else None
    station = runtime.network.station(returned.escort_station_id)
    notice = ReturnNotice(
        id=uuid.uuid4(),
        return_id=returned.id,
        addressed_to=addressee(returned),
        issued_at=now,
        html=render_notice(
            returned,
            traveller,
            escort,
            station.name if station else returned.escort_station_id,
            now,
        ),
    )
    session.add(notice)
    await runtime.outbox.stage(
        session,
        ReturnNoticeIssuedV1(
            person_id=returned.person_id,
            notice_id=notice.id,
            return_id=returned.id,
            addressed_to=notice.addressed_to,
            home_province=returned.destination_province,
            home_admin_code=returned.home_admin_code,
            issued_at=now,
        ),
    )


@router.get("/{return_id}/notice", response_class=HTMLResponse)
async def get_notice(
    return_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The written notice to the origin, as a page to read and print."""
    await load_return(session, runtime, principal, return_id)
    notice = await session.scalar(select(ReturnNotice).where(ReturnNotice.return_id == return_id))
    if notice is None:
        raise Problem(404, "Not found", "No notice yet: it is issued at the handover.")
    return HTMLResponse(notice.html)


@router.post("/{return_id}/refusal", response_model=ReturnView)
async def record_refusal(
    return_id: uuid.UUID,
    refusal: Refusal,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The home area refused to take the person back: escalate to the higher level."""
    found = await load_return(session, runtime, principal, return_id, for_update=True)
    ensure_escorting_station(principal, found.escort_station_id)
    if found.status not in (
        ReturnStatus.PLANNED.value,
        ReturnStatus.IN_TRANSIT.value,
        ReturnStatus.PENDING.value,
    ):
        raise conflict("Cannot refuse", f"The return is {found.status}.")
    now = datetime.now(UTC)
    escalation = Escalation(
        id=uuid.uuid4(),
        return_id=found.id,
        person_id=found.person_id,
        escort_station_id=found.escort_station_id,
        refused_by=refusal.refused_by,
        reason=refusal.reason,
        escalated_to=HIGHER_LEVEL,
        status="open",
        opened_at=now,
    )
    session.add(escalation)
    found.status = ReturnStatus.REFUSED.value
    await runtime.outbox.stage(
        session,
        HandoverRefusedV1(
            person_id=found.person_id,
            return_id=found.id,
            escalation_id=escalation.id,
            station_id=found.station_id,
            escort_station_id=found.escort_station_id,
            refused_at=refusal.refused_at or now,
            refused_by=refusal.refused_by,
            reason=refusal.reason,
            escalated_to=HIGHER_LEVEL,
        ),
    )
    await close_escort_if_finished(session, found.escort_id, now)
    result = view(found)
    await session.commit()
    return result
