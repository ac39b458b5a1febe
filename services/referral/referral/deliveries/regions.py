"""Notices between regions: the written return notice (返乡通知) goes to the rescue
station of the person's home region, an agency of the directory of type
``rescue_station`` whose jurisdiction_code is that region's admin code prefix,
and is acknowledged within that type's window (rules.yaml)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from referral.deliveries import outbound
from referral.deliveries.civil_affairs import contact_station
from referral.domain import choose_agency, rules
from referral.tables import Agency, Person
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.network import Network
from rescue_chassis.runtime import Runtime
from rescue_divisions import division_codes
from rescue_events.contracts import PartnerType, ReturnNoticeIssuedV1
from rescue_events.contracts.civil_affairs import HomeRegionReturnNoticeV1
from rescue_events.envelope import Envelope

log = logging.getLogger(__name__)

#: What the home region needs for its at-risk register (易流浪走失人员信息库); never
#: that she fled domestic violence or was trafficked.
AT_RISK = ("minor", "elderly", "disabled", "mental_illness", "dementia")


def _province_code(name: str) -> str | None:
    code = division_codes().province_named(name)
    return None if code is None else f"{code:02d}"


def home_codes(
    event: ReturnNoticeIssuedV1, province_code: Callable[[str], str | None] = _province_code
) -> list[str]:
    """The codes to find the home region's station by: the registered home, else
    its province (a station serving the whole province)."""
    codes = [event.home_admin_code] if event.home_admin_code else []
    by_name = province_code(event.home_province)
    return [*codes, *([by_name] if by_name else [])]


def notice_for_home_region(
    network: Network, event: ReturnNoticeIssuedV1, person: Person | None
) -> HomeRegionReturnNoticeV1:
    station_id = person.station_id if person else network.center.id
    sender_id, sender_name = contact_station(network, station_id, person)
    sender = network.station(sender_id) or network.center
    return HomeRegionReturnNoticeV1(
        person_id=event.person_id,
        notice_id=event.notice_id,
        reference=str(event.notice_id),
        sending_station=sender_name,
        sending_region=f"{sender.province}{sender.city}",
        addressed_to=event.addressed_to,
        issued_at=event.issued_at,
        full_name=person.full_name if person else None,
        sex=person.sex if person else None,
        estimated_age=person.estimated_age if person else None,
        home_province=event.home_province,
        home_admin_code=event.home_admin_code,
        categories=[c for c in AT_RISK if person and c in person.categories],
    )


def acknowledgement_window() -> timedelta:
    return rules().deadlines[PartnerType.RESCUE_STATION].acknowledge


async def station_of_home_region(uow: UnitOfWork, codes: list[str]) -> str | None:
    serving = await uow.find(Agency, partner_type=PartnerType.RESCUE_STATION.value, active=True)
    return choose_agency([(a.id, a.jurisdiction_code) for a in serving], *codes)


async def send_return_notice(
    uow: UnitOfWork,
    event: ReturnNoticeIssuedV1,
    envelope: Envelope,
    province_code: Callable[[str], str | None] = _province_code,
) -> None:
    """The notice to the home region's station; none when the home lies in no other
    region's area of the directory (a return within the network: followup has it)."""
    station = await station_of_home_region(uow, home_codes(event, province_code))
    if station is None:
        log.info(
            "return notice %s: no station of another region serves %s %s",
            event.notice_id,
            event.home_province,
            event.home_admin_code,
        )
        return
    person = await uow.get(Person, event.person_id)
    await outbound.deliver(
        uow,
        agency_id=station,
        feed=outbound.Feed.RETURN_NOTICE,
        event=notice_for_home_region(uow.network, event, person),
        subject_id=event.person_id,
        source_event_id=uuid.UUID(envelope.id),
        acknowledge_within=acknowledgement_window(),
    )


def handlers(runtime: Runtime):
    """The notices to other regions, for referral's consumer (referral.handlers)."""

    async def when_return_notice_issued_send_it_home(
        session: AsyncSession, event: ReturnNoticeIssuedV1, envelope: Envelope
    ) -> None:
        await send_return_notice(UnitOfWork(session, runtime), event, envelope)

    return {ReturnNoticeIssuedV1: when_return_notice_issued_send_it_home}
