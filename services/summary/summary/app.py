"""Summary: the network's summary tables (情况汇总表), counted from every service's events."""

from pathlib import Path

from rescue_chassis.app import ServiceDefinition
from summary import audit_anchors, handlers, sweeps
from summary.api import routers
from summary.metrics import WORK_METRICS
from summary.settings import SummarySettings
from summary.tables import tables

service = ServiceDefinition(
    name="summary",
    title="Summary",
    description=(
        "The summary tables (情况汇总表): per station and month, admissions, refusals, leads, "
        "identification, notices within 24 hours, DNA, returns and escorts, referrals, "
        "outsourced care, long stays, revisits and repeat wandering; exported as xlsx and "
        "csv, filed with the national rescue information system, rebuilt from the events."
    ),
    settings_class=SummarySettings,
    tables=tables,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    produces=[],
    routers=[*routers, audit_anchors.router],
    handlers=lambda runtime: {**handlers.handlers(runtime), **audit_anchors.handlers(runtime)},
    periodic=sweeps.jobs,
    work_metrics=WORK_METRICS,
)
