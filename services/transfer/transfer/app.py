"""Transfer: returns home, cross-province escorts run by the center station."""

from pathlib import Path

from rescue_chassis.app import ServiceDefinition
from rescue_divisions import preload as preload_division_codes
from rescue_events.contracts.topics import TRANSFER_EVENTS, TRANSFER_TOPICS
from transfer import handlers
from transfer.api import routers
from transfer.metrics import WORK_METRICS
from transfer.settings import TransferSettings
from transfer.tables import tables

service = ServiceDefinition(
    name="transfer",
    title="Transfer",
    description=(
        "Returns home: escorts planned and batched by the center for cross-province "
        "returns, legs, the signed handover, refusals escalated, the written notice."
    ),
    settings_class=TransferSettings,
    tables=tables,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    produces=[*TRANSFER_TOPICS, TRANSFER_EVENTS],  # the retired one: rows staged before the move
    routers=routers,
    handlers=handlers.handlers,
    work_metrics=WORK_METRICS,
    startup=[preload_division_codes],  # admin codes in requests are checked against them
)
