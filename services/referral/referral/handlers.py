from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import referrals_for
from referral.tables import Referral
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import PersonAdmittedV1, ReferralOpenedV1
from rescue_events.envelope import Envelope


def handlers(runtime: Runtime):
    async def when_person_admitted_refer_by_category(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        now = datetime.now(UTC)
        for reason, partner in referrals_for(event.categories):
            exists = await session.scalar(
                select(Referral.id).where(
                    Referral.person_id == event.person_id,
                    Referral.partner_type == partner.value,
                    Referral.reason == reason.value,
                )
            )
            if exists:
                continue
            referral = Referral(
                id=uuid.uuid4(),
                person_id=event.person_id,
                station_id=event.station_id,
                partner_type=partner.value,
                reason=reason.value,
                status="created",
                opened_at=now,
            )
            session.add(referral)
            await runtime.outbox.stage(
                session,
                ReferralOpenedV1(
                    person_id=event.person_id,
                    referral_id=referral.id,
                    station_id=event.station_id,
                    partner_type=partner,
                    reason=reason,
                    opened_at=now,
                ),
            )

    return {PersonAdmittedV1: when_person_admitted_refer_by_category}
