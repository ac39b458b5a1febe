"""Search's figures for /metrics: open cases and overdue search tasks."""

from sqlalchemy import func, select

from rescue_chassis.metrics import WorkMetric, grouped_count
from search.tables import SearchCase, SearchTask


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


WORK_METRICS = [
    WorkMetric("rescue_open_search_cases", "Open search cases.", ("station",), _open_cases),
    WorkMetric("rescue_overdue", "Overdue deadlines.", ("station", "kind"), _overdue),
]
