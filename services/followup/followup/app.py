"""Followup: return stabilisation, revisits and the ledger of returned persons."""

from pathlib import Path

from followup import handlers, sweeps
from followup.api import routers
from followup.metrics import WORK_METRICS
from followup.settings import FollowupSettings
from followup.tables import tables
from rescue_chassis.app import ServiceDefinition
from rescue_events.contracts.topics import FOLLOWUP_EVENTS, FOLLOWUP_TOPICS

service = ServiceDefinition(
    name="followup",
    title="Followup",
    description=(
        "Return stabilisation: the ledger of returned persons, revisits every two months "
        "for a year, the at-risk register, risk assessment and help, repeat wandering."
    ),
    settings_class=FollowupSettings,
    tables=tables,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    produces=[*FOLLOWUP_TOPICS, FOLLOWUP_EVENTS],  # the retired one: rows staged before the move
    routers=routers,
    handlers=handlers.handlers,
    periodic=sweeps.jobs,
    work_metrics=WORK_METRICS,
)
