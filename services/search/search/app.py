"""Search: finding out who an unidentified person is (寻亲甄别)."""

from pathlib import Path

from rescue_chassis.app import ServiceDefinition
from rescue_divisions import preload as preload_division_codes
from rescue_events.contracts.topics import (
    PARTNER_ANSWERS,
    PARTNER_TOPICS,
    SEARCH_EVENTS,
    SEARCH_TOPICS,
)
from search import handlers, sweeps
from search.api import routers
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
    # Police requests go out on the police partners' topic; their answers come in
    # on the partners' answers topic (created by whoever starts first); the retired
    # SEARCH_EVENTS for rows staged before the move.
    produces=[*SEARCH_TOPICS, SEARCH_EVENTS, PARTNER_TOPICS["police"], PARTNER_ANSWERS],
    routers=routers,
    handlers=handlers.handlers,
    periodic=sweeps.jobs,
    work_metrics=WORK_METRICS,
    startup=[preload_division_codes],  # admin codes in requests are checked against them
)
