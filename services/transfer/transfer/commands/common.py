"""Who sees a return, an escort or an escalation, and who records their steps."""

from __future__ import annotations

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import Forbidden
from transfer.tables import Escalation, Escort, Return


def return_stations(found: Return) -> tuple[str, str]:
    """A return is seen by the caring station and the escorting one (and the center)."""
    return (found.station_id, found.escort_station_id)


def escort_stations(row: Escort | Escalation) -> str:
    """An escort or an escalation is seen by the station running it (and the center)."""
    return row.escort_station_id


def ensure_escorting_station(uow: UnitOfWork, escort_station_id: str) -> None:
    """Only the station running the escort records its steps (the center too sees them)."""
    if uow.actor is not None and uow.actor.station_id != escort_station_id:
        raise Forbidden(
            "Not the escorting station",
            f"Station {escort_station_id} runs this escort and records its steps.",
        )
