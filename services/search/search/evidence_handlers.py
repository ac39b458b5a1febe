"""Events the evidence part of search reacts to: a new case is matched against the
open missing-person reports (search consumes its own `search_case_opened`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import SearchCaseOpenedV1
from rescue_events.envelope import Envelope
from search.commands.cases import MatchOpenedCase, match_opened_case


def handlers(runtime: Runtime) -> dict:
    async def when_case_opened_match_open_reports(
        session: AsyncSession, event: SearchCaseOpenedV1, envelope: Envelope
    ) -> None:
        await match_opened_case(
            MatchOpenedCase(case_id=event.case_id), UnitOfWork(session, runtime)
        )

    return {SearchCaseOpenedV1: when_case_opened_match_open_reports}
