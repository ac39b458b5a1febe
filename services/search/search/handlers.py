"""Search reacts to admissions and hospital placements (the person's one case and its
tasks, following the person from station to station); the other parts add theirs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import PersonAdmittedV1
from rescue_events.contracts.intake_arrivals import HospitalPlacementMadeV1
from rescue_events.envelope import Envelope
from search import (
    escalation_handlers,
    face_handlers,
    notice_handlers,
    police_handlers,
)
from search.commands.cases import OpenSearchCase, open_search_case


def handlers(runtime: Runtime):
    async def when_person_admitted_open_search_case(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        # an unidentified person gets a case; a person with one, whatever the
        # admission says of their identity, takes it to this station
        await open_search_case(OpenSearchCase.of(event), UnitOfWork(session, runtime))

    async def when_placed_in_hospital_open_search_case(
        session: AsyncSession, event: HospitalPlacementMadeV1, envelope: Envelope
    ) -> None:
        await open_search_case(OpenSearchCase.of_placement(event), UnitOfWork(session, runtime))

    # Each part of search declares the events it reacts to; one handler per event
    # type, so two parts claiming the same event is a mistake caught at start-up.
    merged: dict = {
        PersonAdmittedV1: when_person_admitted_open_search_case,
        HospitalPlacementMadeV1: when_placed_in_hospital_open_search_case,
    }
    for part in (
        notice_handlers,
        police_handlers,
        escalation_handlers,
        face_handlers,
    ):
        for contract, handler in part.handlers(runtime).items():
            if contract in merged:
                raise RuntimeError(f"{contract.__name__} is handled twice in search")
            merged[contract] = handler
    return merged
