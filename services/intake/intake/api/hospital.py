"""Medical first (先救治,后救助): placements in hospital, screening there, and the
discharge that admits the person (commands/hospital.py)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from intake import queries
from intake.commands import hospital
from intake.commands.hospital import (
    DischargeFromHospital,
    HospitalDischarge,
    PlaceInHospital,
    Placement,
    RecordScreening,
    Screening,
)
from intake.tables import HospitalPlacement
from intake.views import PersonView, PlacementView, placement_view
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/hospital-placements",
    tags=["hospital placements"],
    dependencies=[require_roles(*STATION_WORK)],
)


@router.post("", status_code=201, response_model=PlacementView)
async def place_in_hospital(request: Placement, run: Run):
    """Place a person in hospital before any admission; hospital_placement_made goes
    out under a person id minted now."""
    command = PlaceInHospital(**dict(request))
    return await run(hospital.place_in_hospital, command, location="/hospital-placements/{id}")


@router.post("/{placement_id}/screening", status_code=201, response_model=PlacementView)
async def record_screening(placement_id: uuid.UUID, request: Screening, run: Run):
    """Identity screening at the hospital; the latest name found goes onto the
    admission at discharge."""
    command = RecordScreening(placement_id=placement_id, **dict(request))
    return await run(hospital.record_screening, command)


@router.post("/{placement_id}/discharge", status_code=201, response_model=PersonView)
async def discharge_from_hospital(placement_id: uuid.UUID, request: HospitalDischarge, run: Run):
    """The hospital discharges the person: the placement ends and the person is
    admitted to the placing station in the same transaction (hospital_transfer,
    source = the hospital), with the name the screening found, if any.
    hospital_placement_ended goes out, then person_admitted, on the same person id."""
    command = DischargeFromHospital(placement_id=placement_id, **dict(request))
    return await run(hospital.discharge_from_hospital, command, location="/persons/{id}")


@router.get("", response_model=list[PlacementView])
async def open_placements(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep):
    """The caller's station's open placements (the center sees the network), oldest
    first: persons in hospital awaiting screening and discharge."""
    return await queries.open_placements(UnitOfWork(session, runtime, principal))


@router.get("/{placement_id}", response_model=PlacementView)
async def get_placement(
    placement_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    uow = UnitOfWork(session, runtime, principal)
    placement = await uow.load(HospitalPlacement, placement_id, what="hospital placement")
    return await placement_view(uow, placement)
