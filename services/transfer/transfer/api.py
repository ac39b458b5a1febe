from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from rescue_chassis.access import ensure_visible, sees_network
from rescue_chassis.auth import PrincipalDep
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import HEADER, IdempotentRequest
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import PersonHandedOverV1, ReceiverKind
from transfer.tables import Return, tables

router = APIRouter(prefix="/returns", tags=["returns"])


class ReturnView(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    station_id: str
    escort_station_id: str
    cross_province: bool
    status: str
    full_name: str
    destination_province: str
    home_address: str
    home_admin_code: str | None
    opened_at: datetime
    handed_over_at: datetime | None
    receiver_kind: str | None
    received_by: str | None
    relation: str | None

    @classmethod
    def of(cls, r: Return) -> ReturnView:
        return cls.model_validate(r, from_attributes=True)


class Handover(BaseModel):
    """The signed handover at home (交接): to the family or the receiving station."""

    model_config = ConfigDict(extra="forbid")

    receiver_kind: ReceiverKind
    received_by: str = Field(min_length=1, max_length=100)
    relation: str | None = Field(default=None, max_length=50, examples=["daughter"])
    handed_over_at: AwareDatetime | None = None


@router.get("", response_model=list[ReturnView])
async def list_returns(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(pattern="^(planned|handed_over)$")] = None,
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
        query = query.where(Return.status == status)
    return [ReturnView.of(r) for r in (await session.scalars(query)).all()]


@router.get("/{return_id}", response_model=ReturnView)
async def get_return(
    return_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    found = await session.get(Return, return_id)
    if found is None:
        raise Problem(404, "Not found", "No such return.")
    ensure_visible(principal, runtime.network, "return", found.station_id, found.escort_station_id)
    return ReturnView.of(found)


@router.post("/{return_id}/handover", response_model=ReturnView)
async def record_handover(
    return_id: uuid.UUID,
    handover: Handover,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(alias=HEADER)] = None,
):
    """Record the handover to the family or receiving station (`person_handed_over`)."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal.subject, handover
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    found = await session.get(Return, return_id, with_for_update=True)
    if found is None:
        raise Problem(404, "Not found", "No such return.")
    ensure_visible(principal, runtime.network, "return", found.station_id, found.escort_station_id)
    if principal.station_id != found.escort_station_id:
        raise Problem(
            403,
            "Not the escorting station",
            f"Station {found.escort_station_id} runs this escort and records its handover.",
        )
    if found.status != "planned":
        raise Problem(409, "Already handed over", "This return's handover is already recorded.")
    now = datetime.now(UTC)
    handed_over_at = handover.handed_over_at or now
    if handed_over_at > now:
        raise invalid("handed_over_at", "lies in the future")
    found.status = "handed_over"
    found.handed_over_at = handed_over_at
    found.receiver_kind = handover.receiver_kind.value
    found.received_by = handover.received_by
    found.relation = handover.relation
    found.handover_recorded_by = principal.subject
    await runtime.outbox.stage(
        session,
        PersonHandedOverV1(
            person_id=found.person_id,
            return_id=found.id,
            station_id=found.station_id,
            escort_station_id=found.escort_station_id,
            handed_over_at=handed_over_at,
            receiver_kind=handover.receiver_kind,
            received_by=handover.received_by,
            relation=handover.relation,
            destination_province=found.destination_province,
            home_address=found.home_address,
            home_admin_code=found.home_admin_code,
        ),
    )
    view = ReturnView.of(found)
    await idem.remember(session, 200, view.model_dump(mode="json"))
    await session.commit()
    return view
