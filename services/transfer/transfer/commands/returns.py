"""Returns home: opened, found fit to travel, handed over with the written notice,
or refused by the home area and escalated."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

from rescue_chassis.access import ensure_known_station
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Conflict, Forbidden, Refused
from rescue_divisions.fields import (
    DocumentNumber,
    HomeAdminCode,
    checked_national_id,
    home_in_province,
)
from rescue_events.contracts import (
    HandoverRefusedV1,
    PersonHandedOverV1,
    ReceiverKind,
    ReturnNoticeIssuedV1,
    ReturnOpenedV1,
)
from transfer.commands.common import ensure_escorting_station, return_stations
from transfer.domain import ReturnStatus, decode_signature, escort_station, not_future
from transfer.notice import addressee, render_notice
from transfer.settle import close_escort_if_finished
from transfer.tables import Escalation, Escort, Return, ReturnNotice, Traveller
from transfer.views import ReturnView, return_view

# Where refusals go (流出地拒不接收 → 上级民政部门).
HIGHER_LEVEL = "上级民政部门 (higher civil-affairs level)"


class ReturnOpening(BaseModel):
    """A return opened by staff decision, e.g. a person who knows who they are."""

    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID
    full_name: str = Field(min_length=1, max_length=100, examples=["李建国"])
    home_province: str = Field(min_length=2, max_length=50, examples=["四川省"])
    home_address: str = Field(min_length=1, max_length=300, examples=["四川省南充市仪陇县"])
    home_admin_code: HomeAdminCode | None = Field(
        default=None,
        description="The home's county (6 digits), town (9) or village (12) code, current or "
        "former (kept as given), in home_province.",
        examples=["511324"],
    )

    _home_in_province = field_validator("home_admin_code")(home_in_province("home_province"))


class Fitness(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fit_to_travel: StrictBool
    medical_escort_required: StrictBool = False
    note: str | None = Field(default=None, max_length=500, examples=["血压平稳，可乘火车"])


class HandoverReceipt(BaseModel):
    """The signed handover (交接) to the family or the receiving station."""

    model_config = ConfigDict(extra="forbid")

    receiver_kind: ReceiverKind
    received_by: str = Field(min_length=1, max_length=100, examples=["李红"])
    relation: str | None = Field(default=None, max_length=50, examples=["daughter"])
    id_document_type: Literal["resident_id_card", "household_register", "passport", "other", "none"]
    id_document_number: DocumentNumber | None = Field(
        default=None,
        description="A resident_id_card's number is checked (GB 11643); full-width digits, "
        "spaces and a lower-case x are read as meant.",
    )
    place: str = Field(min_length=1, max_length=300, examples=["四川省南充市仪陇县马鞍镇"])
    handed_over_at: PastInstant | None = None
    signature_png: str = Field(
        min_length=12, max_length=360_000, description="The receiver's signature, base64 PNG."
    )

    @field_validator("id_document_number")
    @classmethod
    def _resident_id_card(cls, number: str | None, info: ValidationInfo) -> str | None:
        if number is not None and info.data.get("id_document_type") == "resident_id_card":
            return checked_national_id(number)
        return number


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refused_by: str = Field(min_length=1, max_length=200, examples=["马鞍镇人民政府"])
    reason: str = Field(min_length=1, max_length=2000)
    refused_at: PastInstant | None = None


class OpenReturn(Command):
    """A person's return home: opened by staff for their own station, or on a
    confirmed identity for the station the event names."""

    person_id: uuid.UUID
    full_name: str
    home_province: str
    home_address: str
    home_admin_code: str | None = None
    station_id: str | None = None  # a consumer's; staff open returns of their own station


async def open_return(command: OpenReturn, uow: UnitOfWork) -> ReturnView:
    """Open a return; every cross-province return of a satellite goes to the center."""
    if uow.actor is not None:
        ensure_known_station(uow.actor, uow.network)
    if await uow.find(Return, person_id=command.person_id):
        raise Conflict("Return exists", "This person already has a return.")
    station_id = uow.actor.station_id if uow.actor else command.station_id
    cross_province = uow.network.is_cross_province(station_id, command.home_province)
    opened = Return(
        id=uuid.uuid4(),
        person_id=command.person_id,
        station_id=station_id,
        escort_station_id=escort_station(uow.network, station_id, cross_province),
        cross_province=cross_province,
        status=ReturnStatus.PENDING.value,
        full_name=command.full_name,
        destination_province=command.home_province,
        home_address=command.home_address,
        home_admin_code=command.home_admin_code,
        opened_at=uow.now,
        opened_by=uow.actor.subject if uow.actor else "identity_confirmed",
    )
    uow.add(opened)
    await uow.publish(
        ReturnOpenedV1(
            person_id=opened.person_id,
            return_id=opened.id,
            station_id=station_id,
            escort_station_id=opened.escort_station_id,
            cross_province=cross_province,
            destination_province=opened.destination_province,
            opened_at=opened.opened_at,
        )
    )
    return return_view(opened)


class RecordFitness(Command):
    return_id: uuid.UUID
    fitness: Fitness


async def record_fitness(command: RecordFitness, uow: UnitOfWork) -> ReturnView:
    """The caring or the escorting station records whether the person may travel."""
    found = await uow.load(
        Return, command.return_id, what="return", lock=True, stations=return_stations
    )
    if uow.actor is not None and uow.actor.station_id not in return_stations(found):
        raise Forbidden("Forbidden", "Only the caring or escorting station records fitness.")
    if found.status not in (ReturnStatus.PENDING.value, ReturnStatus.PLANNED.value):
        raise Conflict("Too late", f"The return is {found.status}.")
    found.fit_to_travel = command.fitness.fit_to_travel
    found.medical_escort_required = command.fitness.medical_escort_required
    found.fitness_note = command.fitness.note
    return return_view(found)


class RecordHandover(Command):
    return_id: uuid.UUID
    receipt: HandoverReceipt


async def record_handover(command: RecordHandover, uow: UnitOfWork) -> ReturnView:
    """The signed handover at home, and the written notice to the origin."""
    found = await uow.load(
        Return, command.return_id, what="return", lock=True, stations=return_stations
    )
    ensure_escorting_station(uow, found.escort_station_id)
    if found.status != ReturnStatus.IN_TRANSIT.value:
        raise Conflict(
            "Not on the way", f"The return is {found.status}; the escort must depart first."
        )
    receipt = command.receipt
    handed_over_at = not_future("handed_over_at", receipt.handed_over_at, uow.now)
    if receipt.id_document_type != "none" and not receipt.id_document_number:
        raise Refused("id_document_number", "is required with an identity document")
    signature = decode_signature(receipt.signature_png)

    found.status = ReturnStatus.HANDED_OVER.value
    found.handed_over_at = handed_over_at
    found.receiver_kind = receipt.receiver_kind.value
    found.received_by = receipt.received_by
    found.relation = receipt.relation
    found.receiver_id_document_type = receipt.id_document_type
    found.receiver_id_document_number = receipt.id_document_number
    found.handover_place = receipt.place
    found.signature_png = signature
    found.handover_recorded_by = uow.actor.subject if uow.actor else None
    await uow.publish(
        PersonHandedOverV1(
            person_id=found.person_id,
            return_id=found.id,
            station_id=found.station_id,
            escort_station_id=found.escort_station_id,
            handed_over_at=handed_over_at,
            receiver_kind=receipt.receiver_kind,
            received_by=receipt.received_by,
            relation=receipt.relation,
            destination_province=found.destination_province,
            home_address=found.home_address,
            home_admin_code=found.home_admin_code,
            full_name=found.full_name,
        )
    )
    await _issue_notice(uow, found)
    await close_escort_if_finished(uow, found.escort_id)
    return return_view(found)


async def _issue_notice(uow: UnitOfWork, returned: Return) -> None:
    """The written notice to the origin's civil-affairs department (书面告知)."""
    traveller = await uow.get(Traveller, returned.person_id)
    escort = await uow.get(Escort, returned.escort_id) if returned.escort_id else None
    station = uow.network.station(returned.escort_station_id)
    station_name = station.name if station else returned.escort_station_id
    notice = ReturnNotice(
        id=uuid.uuid4(),
        return_id=returned.id,
        addressed_to=addressee(returned),
        issued_at=uow.now,
        html=render_notice(returned, traveller, escort, station_name, uow.now),
    )
    uow.add(notice)
    await uow.publish(
        ReturnNoticeIssuedV1(
            person_id=returned.person_id,
            notice_id=notice.id,
            return_id=returned.id,
            addressed_to=notice.addressed_to,
            home_province=returned.destination_province,
            home_admin_code=returned.home_admin_code,
            issued_at=uow.now,
        )
    )


class RecordRefusal(Command):
    return_id: uuid.UUID
    refusal: Refusal


async def record_refusal(command: RecordRefusal, uow: UnitOfWork) -> ReturnView:
    """The home area refused to take the person back: escalated to the higher level."""
    found = await uow.load(
        Return, command.return_id, what="return", lock=True, stations=return_stations
    )
    ensure_escorting_station(uow, found.escort_station_id)
    if found.status not in (
        ReturnStatus.PLANNED.value,
        ReturnStatus.IN_TRANSIT.value,
        ReturnStatus.PENDING.value,
    ):
        raise Conflict("Cannot refuse", f"The return is {found.status}.")
    refusal = command.refusal
    escalation = Escalation(
        id=uuid.uuid4(),
        return_id=found.id,
        person_id=found.person_id,
        escort_station_id=found.escort_station_id,
        refused_by=refusal.refused_by,
        reason=refusal.reason,
        escalated_to=HIGHER_LEVEL,
        status="open",
        opened_at=uow.now,
    )
    uow.add(escalation)
    found.status = ReturnStatus.REFUSED.value
    await uow.publish(
        HandoverRefusedV1(
            person_id=found.person_id,
            return_id=found.id,
            escalation_id=escalation.id,
            station_id=found.station_id,
            escort_station_id=found.escort_station_id,
            refused_at=refusal.refused_at or uow.now,
            refused_by=refusal.refused_by,
            reason=refusal.reason,
            escalated_to=HIGHER_LEVEL,
        )
    )
    await close_escort_if_finished(uow, found.escort_id)
    return return_view(found)
