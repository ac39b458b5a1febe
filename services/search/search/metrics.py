"""Search's figures for /metrics: open cases, overdue search tasks, open escalations."""

from sqlalchemy import func, select

from rescue_chassis.metrics import WorkMetric, grouped_count
from search.tables import SearchCase, SearchTask
from search.tables.escalations import Escalation


async def _open_cases(session, now):
    return await grouped_count(
        session,
        select(SearchCase.station_id, func.count())
        .where(SearchCase.status == "open")
        .group_by(SearchCase.station_id),
    )


async def _overdue(session, now):
    """Open tasks past their deadline: the notice, the police check, the DNA sample."""
    return await grouped_count(
        session,
        select(SearchTask.station_id, SearchTask.kind, func.count())
        .where(SearchTask.status == "open", SearchTask.due_at < now)
        .group_by(SearchTask.station_id, SearchTask.kind),
    )


async def _open_escalations(session, now):
    """Missed deadlines and long stays the center has not acknowledged yet."""
    return await grouped_count(
        session,
        select(Escalation.station_id, Escalation.kind, func.count())
        .where(Escalation.status == "open")
        .group_by(Escalation.station_id, Escalation.kind),
    )


WORK_METRICS = [
    WorkMetric("rescue_open_search_cases", "Open search cases.", ("station",), _open_cases),
    WorkMetric("rescue_overdue", "Overdue deadlines.", ("station", "kind"), _overdue),
    WorkMetric(
        "rescue_escalations_open",
        "Escalations to the center not acknowledged yet.",
        ("station", "kind"),
        _open_escalations,
    ),
]
