"""Incidents: death, a person gone missing (走失), injury — recorded and published
at once for the civil-affairs bureau."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from intake.commands import incidents
from intake.commands.incidents import IncidentReport
from intake.views import PersonView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import require_roles
from rescue_chassis.commands import Run

router = APIRouter(
    prefix="/persons", tags=["incidents"], dependencies=[require_roles(*STATION_WORK)]
)


@router.post("/{person_id}/incidents", status_code=201, response_model=PersonView)
async def report_incident(person_id: uuid.UUID, report: IncidentReport, run: Run):
    """A death ends the stay (discharged: died); a person gone missing is marked
    missing until found or discharged; every incident goes out at once."""
    command = incidents.ReportIncident(person_id=person_id, report=report)
    return await run(incidents.report_incident, command)
