"""Transfer: returns home, cross-province escorts run by the center station."""

from pathlib import Path

from rescue_chassis.app import ServiceDefinition
from rescue_events.contracts import TRANSFER_EVENTS
from transfer import api, handlers
from transfer.settings import TransferSettings
from transfer.tables import tables

service = ServiceDefinition(
    name="transfer",
    title="Transfer",
    description="Returns home and the center station's cross-province escorts.",
    settings_class=TransferSettings,
    tables=tables,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    produces=[TRANSFER_EVENTS],
    routers=[api.router],
    handlers=handlers.handlers,
)
