"""Search: finding out who an unidentified person is (寻亲甄别)."""

from pathlib import Path

from rescue_chassis.app import ServiceDefinition
from rescue_events.contracts import SEARCH_EVENTS
from search import api, handlers
from search.metrics import WORK_METRICS
from search.settings import SearchSettings
from search.tables import tables

service = ServiceDefinition(
    name="search",
    title="Search",
    description="Search cases, their deadlines and identity confirmation.",
    settings_class=SearchSettings,
    tables=tables,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    produces=[SEARCH_EVENTS],
    routers=[api.router],
    handlers=handlers.handlers,
    work_metrics=WORK_METRICS,
)
