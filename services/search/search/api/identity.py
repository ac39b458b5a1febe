"""Confirming who a person is, and recognising an earlier stay. (The evidence
helper extends this: candidates, evidence, roles, national ID checks.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from rescue_chassis.access import ensure_visible
from rescue_chassis.auth import PrincipalDep
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import HEADER, IdempotentRequest
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import (
    EarlierStayRecognisedV1,
    IdentificationMethod,
    IdentityConfirmedV1,
)
from search.api.cases import CaseView
from search.tables import EarlierStay, SearchCase, tables

router = APIRouter(prefix="/cases", tags=["search cases"])


class IdentityConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: IdentificationMethod
    full_name: str = Field(min_length=1, max_length=100)
    home_province: str = Field(min_length=2, max_length=50, examples=["四川省"])
    home_address: str = Field(min_length=1, max_length=300)
    home_admin_code: str | None = Field(default=None, pattern=r"^\d{6}(\d{3}(\d{3})?)?$")


@router.post("/{case_id}/identity-confirmation", response_model=CaseView)
async def confirm_identity(
    case_id: uuid.UUID,
    confirmation: IdentityConfirmation,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(alias=HEADER)] = None,
):
    """Staff confirm who the person is and where home is (`identity_confirmed`)."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal.subject, confirmation
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    case = await session.get(SearchCase, case_id, with_for_update=True)
    if case is None:
        raise Problem(404, "Not found", "No such search case.")
    ensure_visible(principal, runtime.network, "search case", case.station_id)
    if case.status != "open":
        raise Problem(
            409,
            "Already identified",
            f"This person was identified on {case.identified_at:%Y-%m-%d}.",
        )
    now = datetime.now(UTC)
    case.status = "identified"
    case.identified_at = now
    case.identified_by = principal.subject
    case.method = confirmation.method.value
    case.full_name = confirmation.full_name
    case.home_province = confirmation.home_province
    case.home_address = confirmation.home_address
    case.home_admin_code = confirmation.home_admin_code
    await runtime.outbox.stage(
        session,
        IdentityConfirmedV1(
            person_id=case.person_id,
            case_id=case.id,
            station_id=case.station_id,
            confirmed_at=now,
            confirmed_by=principal.subject,
            method=confirmation.method,
            full_name=confirmation.full_name,
            home_province=confirmation.home_province,
            home_address=confirmation.home_address,
            home_admin_code=confirmation.home_admin_code,
            cross_province=runtime.network.is_cross_province(
                case.station_id, confirmation.home_province
            ),
        ),
    )
    view = CaseView.of(case)
    await idem.remember(session, 200, view.model_dump(mode="json"))
    await session.commit()
    return view


class EarlierStayRecognition(BaseModel):
    """A match (from the matching engine or by hand) that a specialist accepted."""

    model_config = ConfigDict(extra="forbid")

    earlier_person_id: uuid.UUID
    method: IdentificationMethod = Field(examples=["face_comparison"])
    similarity: float | None = Field(default=None, ge=0, le=1)


class EarlierStayView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    earlier_person_id: uuid.UUID
    method: str
    similarity: float | None
    recognised_at: datetime


@router.post("/{case_id}/earlier-stays", status_code=201, response_model=EarlierStayView)
async def recognise_earlier_stay(
    case_id: uuid.UUID,
    recognition: EarlierStayRecognition,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The person was in the network's records before (`earlier_stay_recognised`):
    followup flags a returned person back on the street."""
    case = await session.get(SearchCase, case_id, with_for_update=True)
    if case is None:
        raise Problem(404, "Not found", "No such search case.")
    ensure_visible(principal, runtime.network, "search case", case.station_id)
    if recognition.earlier_person_id == case.person_id:
        raise invalid("earlier_person_id", "is this case's own person")
    if await session.scalar(
        select(EarlierStay.id).where(
            EarlierStay.case_id == case.id,
            EarlierStay.earlier_person_id == recognition.earlier_person_id,
        )
    ):
        raise Problem(409, "Already recognised", "This earlier stay is already on the case.")
    now = datetime.now(UTC)
    stay = EarlierStay(
        id=uuid.uuid4(),
        case_id=case.id,
        earlier_person_id=recognition.earlier_person_id,
        method=recognition.method.value,
        similarity=recognition.similarity,
        recognised_by=principal.subject,
        recognised_at=now,
    )
    session.add(stay)
    await runtime.outbox.stage(
        session,
        EarlierStayRecognisedV1(
            person_id=case.person_id,
            earlier_person_id=recognition.earlier_person_id,
            station_id=case.station_id,
            method=recognition.method,
            similarity=recognition.similarity,
            recognised_by=principal.subject,
            recognised_at=now,
        ),
    )
    view = EarlierStayView.model_validate(stay, from_attributes=True)
    await session.commit()
    return view
