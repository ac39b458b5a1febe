"""Events the police part of search reacts to: the police's answers arriving on
rescue.partner.answers, applied by the partner API's use cases. An answer they
refuse (unknown, not asked of that agency, answered already) is dead-lettered:
retrying cannot change it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import Problem
from rescue_chassis.runtime import Runtime
from rescue_events.consumer import Rejected
from rescue_events.contracts.search_police import PoliceDnaResultV1, PoliceIdentityCheckAnswerV1
from rescue_events.envelope import Envelope
from search.commands import police


def handlers(runtime: Runtime) -> dict:
    async def when_police_answer_a_check_record_it(
        session: AsyncSession, event: PoliceIdentityCheckAnswerV1, envelope: Envelope
    ) -> None:
        answer = police.AnswerPoliceCheck(
            **event.model_dump(include=set(police.AnswerPoliceCheck.model_fields))
        )
        try:
            await police.answer_police_check(answer, UnitOfWork(session, runtime))
        except Problem as refused:
            raise Rejected(
                f"identity check {event.request_id} for person {event.person_id} "
                f"from {event.agency_id}: {refused.detail}"
            ) from None

    async def when_police_report_a_dna_result_record_it(
        session: AsyncSession, event: PoliceDnaResultV1, envelope: Envelope
    ) -> None:
        report = police.ReportDnaResult(
            **event.model_dump(include=set(police.ReportDnaResult.model_fields))
        )
        try:
            await police.report_dna_result(report, UnitOfWork(session, runtime))
        except Problem as refused:
            raise Rejected(
                f"DNA sample {event.sample_id} for person {event.person_id} "
                f"from {event.agency_id}: {refused.detail}"
            ) from None

    return {
        PoliceIdentityCheckAnswerV1: when_police_answer_a_check_record_it,
        PoliceDnaResultV1: when_police_report_a_dna_result_record_it,
    }
