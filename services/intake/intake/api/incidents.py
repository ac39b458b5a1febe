"""Incidents: death, a person gone missing (走失), injury — recorded and published
at once for the civil-affairs bureau."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from intake.api.persons import load_person
from intake.api.stays import Discharge, discharge_stay
from intake.tables import Incident, Stay, tables
from intake.views import PersonView, person_view
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import DischargeReason, IncidentKind, IncidentReportedV1

router = APIRouter(
    prefix="/persons", tags=["incidents"], dependencies=[require_roles(*STATION_WORK)]
)


class IncidentReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IncidentKind = Field(description="death, missing (走失) or injury.")
    occurred_at: PastInstant = Field(
        description="When it happened (or was noticed), with its offset.",
        examples=["2026-11-23T02:40:00+08:00"],
    )
    description: str = Field(
        min_length=1,
        max_length=2000,
        description="What happened and what was done, for the civil-affairs bureau.",
        examples=["夜间查房发现不在床位，已报警"],
    )


@router.post("/{person_id}/incidents", status_code=201, response_model=PersonView)
async def report_incident(
    person_id: uuid.UUID,
    report: IncidentReport,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """A death ends the stay (discharged: died); a person gone missing is marked
    missing until found or discharged; every incident goes out at once."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, report
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    stay = await session.get(Stay, person.current_stay_id, with_for_update=True)
    if stay.discharged_at is not None:
        raise Problem(409, "Not in a station", "The person's stay has ended.")
    now = datetime.now(UTC)
    if report.occurred_at > now:
        raise invalid("occurred_at", "lies in the future")
    if report.occurred_at < stay.arrived_at:
        raise invalid("occurred_at", "is before the person arrived")
    incident = Incident(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id=stay.station_id,
        kind=report.kind.value,
        occurred_at=report.occurred_at,
        description=report.description,
        reported_by=principal.subject,
        reported_at=now,
    )
    session.add(incident)
    await runtime.outbox.stage(
        session,
        IncidentReportedV1(
            person_id=person.id,
            incident_id=incident.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            kind=report.kind,
            occurred_at=report.occurred_at,
            description=report.description,
        ),
    )
    if report.kind is IncidentKind.DEATH:
        # The stay ends as any discharge does: an outsourced placement ends with it,
        # and belongings stay in the station's keeping for the family.
        await discharge_stay(
            session,
            runtime,
            person,
            stay,
            Discharge(
                reason=DischargeReason.DIED,
                discharged_at=report.occurred_at,
                note=report.description,
                belongings_returned=False,
                belongings_note="死亡：随身物品由站内保管，待家属领取",
            ),
            by=principal.subject,
            now=now,
        )
    elif report.kind is IncidentKind.MISSING:
        person.status = "missing"
    await session.flush()
    view = await person_view(session, person)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view
