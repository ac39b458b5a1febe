"""Search's figures for /metrics: open cases and overdue family-search notices."""

from sqlalchemy import func, literal, select

from rescue_chassis.metrics import WorkMetric, grouped_count
from search.tables import SearchCase


async def _open_cases(session, now):
    return await grouped_count(
        session,
        select(SearchCase.station_id, func.count())
        .where(SearchCase.status == "open")
        .group_by(SearchCase.station_id),
    )


async def _overdue(session, now):
    return await grouped_count(
        session,
        select(SearchCase.station_id, literal("family_search_notice"), func.count())
        .where(
            SearchCase.status == "open",
            SearchCase.notice_published_at.is_(None),
            SearchCase.notice_due_at < now,
        )
        .group_by(SearchCase.station_id),
    )


WORK_METRICS = [
    WorkMetric("rescue_open_search_cases", "Open search cases.", ("station",), _open_cases),
    WorkMetric("rescue_overdue", "Overdue deadlines.", ("station", "kind"), _overdue),
]
