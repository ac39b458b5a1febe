"""The at-risk register (易流浪走失人员信息库): entered automatically (categories,
a person found gone again, repeat wandering) or by staff."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from followup import statements
from followup.commands.records import load_record
from followup.tables import AtRiskEntry, StabilisationRecord
from followup.views import AtRiskEntryView
from rescue_chassis.commands import Command, UnitOfWork
from rescue_events.contracts import AtRiskRegisteredV1

AUTOMATIC = "automatic"


class Registration(BaseModel):
    """Staff enter a returned person the automatic rules did not."""

    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    reasons: list[
        Literal["mental_illness", "dementia", "disabled", "repeat_wandering", "other"]
    ] = Field(min_length=1, max_length=5)
    note: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _other_says_why(self) -> Registration:
        if "other" in self.reasons and not self.note:
            raise ValueError("note: say why when the reason is `other`")
        return self


class AddToRegister(Command):
    registration: Registration


async def add_to_register(command: AddToRegister, uow: UnitOfWork) -> AtRiskEntryView:
    registration = command.registration
    record = await load_record(uow, registration.record_id)
    entry = await register_at_risk(
        uow, record, list(registration.reasons), uow.actor.subject, note=registration.note
    )
    return AtRiskEntryView.model_validate(entry)


async def register_at_risk(
    uow: UnitOfWork,
    record: StabilisationRecord,
    reasons: list[str],
    added_by: str,
    note: str | None = None,
) -> AtRiskEntry:
    """Enter the person in the register, or add reasons to their entry. The
    register event goes out only when something new was learned."""
    entry = await statements.register_entry(uow, record.person_id)
    if entry is None:
        entry = AtRiskEntry(
            id=uuid.uuid4(),
            person_id=record.person_id,
            record_id=record.id,
            station_id=record.station_id,
            jurisdiction_code=record.jurisdiction_code,
            reasons=sorted(set(reasons)),
            added_by=added_by,
            note=note,
            registered_at=uow.now,
        )
        uow.add(entry)
    elif set(reasons) <= set(entry.reasons):
        return entry
    else:
        entry.reasons = sorted(set(entry.reasons) | set(reasons))
    await uow.publish(
        AtRiskRegisteredV1(
            person_id=record.person_id,
            jurisdiction_code=record.jurisdiction_code,
            reasons=entry.reasons,
            registered_at=uow.now,
        )
    )
    return entry
