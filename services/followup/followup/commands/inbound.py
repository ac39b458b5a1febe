"""Returns home from elsewhere (返乡通知): another region's station escorts a person
home to this region and says so, by API or on the inbound topic. The person gets
an id of this network, a stabilisation record with its revisits as for a return
handed over here, and may enter the at-risk register. Another region's station
(a partner of type rescue_station) may notify whichever station serves the home,
and keeps a receipt."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from followup.commands.stabilisations import open_record
from followup.domain import CHINA, RecordStatus, check_arrival, identity_key, jurisdiction
from followup.domain import serving_station as station_serving
from followup.tables import InboundReturn, StabilisationRecord
from followup.views import InboundReturnView
from rescue_chassis.access import may_see
from rescue_chassis.auth import Role
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PeriodDay
from rescue_chassis.refusals import Conflict, Forbidden, Refused
from rescue_divisions.fields import HomeAdminCode, NationalIdNumber, home_in_province
from rescue_divisions.national_id import mask_national_id
from rescue_events.contracts import PersonCategory
from rescue_events.contracts.intake import Sex

SOURCE = "inbound_return"

Text = Annotated[str, Field(min_length=1, max_length=100)]


class InboundReturnNotice(BaseModel):
    """What the sending station says: who comes home, where to, when, with whom."""

    model_config = ConfigDict(extra="forbid")

    sending_station: Text = Field(examples=["滨州市救助管理站"], description="Its name.")
    sending_region: Text = Field(examples=["山东省滨州市"], description="Its province and city.")
    reference: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        examples=["滨救返〔2026〕309号"],
        description="The sending station's reference: one notice, one return.",
    )
    full_name: Text
    sex: Sex
    birth_year: StrictInt | None = Field(default=None, ge=1900, le=2100, examples=[1958])
    national_id_number: NationalIdNumber | None = Field(
        default=None, description="Stored encrypted; shown masked but to reviewers."
    )
    # checked even when absent: one of the three says how old the person is
    age: StrictInt | None = Field(default=None, ge=0, le=130, validate_default=True)
    home_province: Annotated[str, Field(min_length=1, max_length=50)] = Field(examples=["河南省"])
    home_admin_code: HomeAdminCode = Field(
        examples=["411525105"], description="The town (9 digits) or village (12): who revisits."
    )
    home_address: Annotated[str, Field(min_length=1, max_length=300)]
    expected_arrival_on: PeriodDay = Field(description="The day the person is expected home.")
    escort: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        examples=["滨州市救助管理站 王强、李军，K1234次，电话0543-0000000"],
    )
    categories: list[PersonCategory] = Field(default_factory=list, max_length=10)

    _agrees = field_validator("home_admin_code")(home_in_province("home_province"))

    @field_validator("home_admin_code")
    @classmethod
    def _town_or_village(cls, code: str) -> str:
        if len(code) < 9:
            raise ValueError("give the town (9 digits) or village (12): the town revisits")
        return code

    @field_validator("age")
    @classmethod
    def _how_old(cls, age: int | None, info: ValidationInfo) -> int | None:
        known = (info.data.get("birth_year"), info.data.get("national_id_number"))
        if age is None and not any(known):
            raise ValueError("give the age, the birth year or the national id number")
        return age


class NotifyInboundReturn(Command):
    notice: InboundReturnNotice
    channel: Literal["api", "event", "partner"] = "api"
    # For an event: the sending system (the envelope's source) and when it notified.
    notified_by: str | None = Field(default=None, max_length=200)
    notified_at: datetime | None = None


class ReceiveReturnNotice(Command):
    notice: InboundReturnNotice


class ReturnNoticeReceipt(BaseModel):
    """What the sending station keeps (回执): its notice, received, and who takes over."""

    receipt_id: uuid.UUID = Field(description="Quote it when asking about this return.")
    reference: str = Field(description="The sender's reference, as received.")
    sending_station: str
    received_at: datetime
    receiving_station_id: str = Field(description="The network's station serving the home.")
    receiving_station: str = Field(examples=["固始县救助管理站"])


def from_other_region(uow: UnitOfWork) -> bool:
    """Another region's station: it does not know our stations, so it may notify any."""
    return uow.actor is not None and uow.actor.has_any(Role.RESCUE_STATION)


def inbound_view(uow: UnitOfWork, inbound: InboundReturn, record_id: uuid.UUID | None):
    """The notice as the caller may see it: the national id masked but to reviewers."""
    number = inbound.national_id_number
    if number is not None and not may_see("national_id_number", uow.actor):
        number = mask_national_id(number)
    return InboundReturnView.model_validate(
        {**inbound.model_dump(), "national_id_number": number, "record_id": record_id}
    )


async def notify_inbound_return(command: NotifyInboundReturn, uow: UnitOfWork) -> InboundReturnView:
    """Open the returnee's stabilisation at the station serving the registered home.
    A notice already received (same sending station and reference) is a 409."""
    notice = command.notice
    check_arrival(notice.expected_arrival_on, uow.now.astimezone(CHINA).date())
    station = station_serving(uow.network, notice.home_admin_code)
    if station is None:
        raise Refused("home_admin_code", "lies outside the area of the network's stations")
    if not (uow.sees(station.id) or from_other_region(uow)):
        raise Refused(
            "home_admin_code",
            f"lies in the area of {station.name} ({station.id}): that station or the center "
            "receives the notice",
        )
    sending_station = notice.sending_station.strip()
    if await uow.find(InboundReturn, sending_station=sending_station, reference=notice.reference):
        raise Conflict(
            "Already notified",
            f"{sending_station}'s notice {notice.reference} was received before.",
            field="reference",
        )
    inbound = InboundReturn(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),  # the person's id in this network, from now on
        station_id=station.id,
        channel=command.channel,
        sending_station=sending_station,
        sending_region=notice.sending_region,
        reference=notice.reference,
        full_name=notice.full_name,
        sex=notice.sex.value,
        birth_year=notice.birth_year,
        age=notice.age,
        national_id_number=notice.national_id_number,
        home_province=notice.home_province,
        home_address=notice.home_address,
        home_admin_code=notice.home_admin_code,
        expected_arrival_on=notice.expected_arrival_on,
        escort=notice.escort,
        categories=[c.value for c in notice.categories],
        notified_by=command.notified_by or (uow.actor.subject if uow.actor else "unknown"),
        notified_at=command.notified_at or uow.now,
        received_at=uow.now,
    )
    uow.add(inbound)
    await uow.flush()  # the record references the notice
    record = StabilisationRecord(
        id=uuid.uuid4(),
        person_id=inbound.person_id,
        source=SOURCE,
        inbound_return_id=inbound.id,
        station_id=station.id,
        full_name=notice.full_name,
        home_province=notice.home_province,
        home_address=notice.home_address,
        home_admin_code=notice.home_admin_code,
        jurisdiction_code=jurisdiction(notice.home_admin_code),
        identity_key=identity_key(notice.full_name, notice.home_admin_code, notice.home_address),
        # home from the expected day: the revisits count from it, as from a handover
        handed_over_at=datetime.combine(notice.expected_arrival_on, time(), CHINA),
        opened_at=uow.now,
        status=RecordStatus.ACTIVE.value,
    )
    await open_record(uow, record, inbound.categories)
    return inbound_view(uow, inbound, record.id)


async def receive_return_notice(
    command: ReceiveReturnNotice, uow: UnitOfWork
) -> ReturnNoticeReceipt:
    """Another region's station's notice, over HTTP: the same stabilisation as a notice
    on the inbound topic, and a receipt (none of the person's details echoed back)."""
    if not from_other_region(uow):
        raise Forbidden("Not a rescue station", "Only another region's station sends these.")
    agency = uow.actor.station_id if uow.actor else "unknown"
    received = await notify_inbound_return(
        NotifyInboundReturn(notice=command.notice, channel="partner", notified_by=agency), uow
    )
    station = uow.network.station(received.station_id)
    return ReturnNoticeReceipt(
        receipt_id=received.id,
        reference=received.reference,
        sending_station=received.sending_station,
        received_at=received.received_at,
        receiving_station_id=received.station_id,
        receiving_station=station.name if station else received.station_id,
    )
