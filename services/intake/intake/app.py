"""Intake: what a station does from the street to discharge."""

from pathlib import Path

from intake import handlers, sweeps
from intake.api import routers
from intake.metrics import WORK_METRICS
from intake.settings import IntakeSettings
from intake.tables import tables
from rescue_chassis.app import ServiceDefinition
from rescue_divisions import preload as preload_division_codes
from rescue_events.contracts.topics import INTAKE_EVENTS, INTAKE_TOPICS

service = ServiceDefinition(
    name="intake",
    title="Intake",
    description="Admissions of homeless and stranded persons to the network's stations.",
    settings_class=IntakeSettings,
    tables=tables,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    produces=[*INTAKE_TOPICS, INTAKE_EVENTS],  # the retired one: rows staged before the move
    routers=routers,
    handlers=handlers.handlers,
    periodic=sweeps.jobs,
    work_metrics=WORK_METRICS,
    startup=[preload_division_codes],  # admin codes in requests are checked against them
)
