"""Events the police part of search reacts to: the police's answers arriving on
rescue.partner.answers (the same answers as the partner API's)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from rescue_events.consumer import Rejected
from rescue_events.contracts.search_police import PoliceDnaResultV1, PoliceIdentityCheckAnswerV1
from rescue_events.envelope import Envelope
from search.police import Answerer, PoliceRefused, addressed_to, answer_check, report_dna_result
from search.tables import DnaSample, PoliceCheck


def handlers(runtime: Runtime) -> dict:
    async def when_police_answer_a_check_record_it(
        session: AsyncSession, event: PoliceIdentityCheckAnswerV1, envelope: Envelope
    ) -> None:
        check = await session.get(PoliceCheck, event.request_id, with_for_update=True)
        if check is None or check.person_id != event.person_id:
            raise Rejected(f"no identity check {event.request_id} for person {event.person_id}")
        if not addressed_to(check, event.agency_id):
            raise Rejected(f"identity check {check.id} was not asked of {event.agency_id}")
        try:
            await answer_check(
                session,
                runtime,
                check,
                Answerer(agency_id=event.agency_id, by=event.agency_id, via="topic"),
                result=event.result,
                answered_at=event.answered_at,
                full_name=event.full_name,
                id_record_ref=event.id_record_ref,
                home_province=event.home_province,
                home_address=event.home_address,
                note=event.note,
            )
        except PoliceRefused as refused:
            raise Rejected(refused.reason) from None

    async def when_police_report_a_dna_result_record_it(
        session: AsyncSession, event: PoliceDnaResultV1, envelope: Envelope
    ) -> None:
        sample = await session.get(DnaSample, event.sample_id, with_for_update=True)
        if sample is None or sample.person_id != event.person_id:
            raise Rejected(f"no DNA sample {event.sample_id} for person {event.person_id}")
        if not addressed_to(sample, event.agency_id):
            raise Rejected(f"DNA sample {sample.id} was not sent to {event.agency_id}")
        try:
            await report_dna_result(
                session,
                runtime,
                sample,
                Answerer(agency_id=event.agency_id, by=event.agency_id, via="topic"),
                result=event.result,
                reported_at=event.reported_at,
                matched_record_id=event.matched_record_id,
                note=event.note,
            )
        except PoliceRefused as refused:
            raise Rejected(refused.reason) from None

    return {
        PoliceIdentityCheckAnswerV1: when_police_answer_a_check_record_it,
        PoliceDnaResultV1: when_police_report_a_dna_result_record_it,
    }
