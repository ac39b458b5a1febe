"""Events the evidence part of search reacts to: a new case is matched against the
open missing-person reports (search consumes its own `search_case_opened`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from rescue_events.contracts import SearchCaseOpenedV1
from rescue_events.driver import begun, run, table_name
from rescue_events.envelope import Envelope
from search.matching import match_case
from search.tables import MissingPersonReport
from search.tables.core import SearchCase

ANY_OPEN_REPORT = (
    f"SELECT EXISTS (SELECT 1 FROM {table_name(MissingPersonReport.__table__)} "
    "WHERE status = 'open')"
)


def handlers(runtime: Runtime) -> dict:
    async def when_case_opened_match_open_reports(
        session: AsyncSession, event: SearchCaseOpenedV1, envelope: Envelope
    ) -> None:
        # Every new case passes here, and most days no report is open: that is
        # asked first, in one fixed statement on the driver (rescue_events.driver).
        driver = await begun(session)
        if not await run(ANY_OPEN_REPORT, driver.fetchval(ANY_OPEN_REPORT)):
            return
        case = await session.get(SearchCase, event.case_id)
        if case is None or case.status != "open":
            return
        await match_case(session, runtime, case)

    return {SearchCaseOpenedV1: when_case_opened_match_open_reports}
