"""What happens to the ledger, written once for the event handlers and the API:
opening a record, the at-risk register, flagging repeat wandering."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from followup.domain import (
    REPEAT_WANDERING,
    RecordStatus,
    RevisitStatus,
    at_risk_reasons,
    identity_key,
    jurisdiction,
    revisit_schedule,
)
from followup.tables import AtRiskEntry, Person, RepeatWandering, Revisit, StabilisationRecord
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import (
    AtRiskRegisteredV1,
    PersonHandedOverV1,
    RepeatWanderingFlaggedV1,
    StabilisationOpenedV1,
)

CHINA = ZoneInfo("Asia/Shanghai")  # revisit dates are the home town's calendar days
AUTOMATIC = "automatic"


async def open_record(
    session: AsyncSession, runtime: Runtime, event: PersonHandedOverV1, now: datetime
) -> StabilisationRecord | None:
    """The stabilisation record and ledger entry at the person's home jurisdiction,
    with revisits every two months for a year assigned to the home town."""
    if await session.scalar(
        select(StabilisationRecord.id).where(StabilisationRecord.person_id == event.person_id)
    ):
        return None
    person = await session.get(Person, event.person_id)
    full_name = event.full_name or (person.full_name if person else None)
    town = jurisdiction(event.home_admin_code)
    record = StabilisationRecord(
        id=uuid.uuid4(),
        person_id=event.person_id,
        return_id=event.return_id,
        station_id=event.station_id,
        escort_station_id=event.escort_station_id,
        full_name=full_name,
        home_province=event.destination_province,
        home_address=event.home_address,
        home_admin_code=event.home_admin_code,
        jurisdiction_code=town,
        identity_key=(
            identity_key(full_name, event.home_admin_code, event.home_address)
            if full_name
            else None
        ),
        received_by=event.received_by,
        handed_over_at=event.handed_over_at,
        opened_at=now,
        status=RecordStatus.ACTIVE.value,
    )
    session.add(record)
    await session.flush()  # the revisits reference the record
    due_dates = revisit_schedule(event.handed_over_at.astimezone(CHINA).date())
    session.add_all(
        Revisit(
            id=uuid.uuid4(),
            record_id=record.id,
            sequence=i,
            due_on=due,
            assigned_to=town,
            status=RevisitStatus.SCHEDULED.value,
        )
        for i, due in enumerate(due_dates, start=1)
    )
    await runtime.outbox.stage(
        session,
        StabilisationOpenedV1(
            person_id=event.person_id,
            record_id=record.id,
            home_province=record.home_province,
            home_admin_code=record.home_admin_code,
            opened_at=now,
            revisit_due_dates=due_dates,
        ),
    )
    reasons = at_risk_reasons(person.categories) if person else []
    if reasons:
        await register_at_risk(session, runtime, record, reasons, AUTOMATIC, now)
    return record


async def register_at_risk(
    session: AsyncSession,
    runtime: Runtime,
    record: StabilisationRecord,
    reasons: list[str],
    added_by: str,
    now: datetime,
    note: str | None = None,
) -> AtRiskEntry:
    """Enter the person in the register, or add reasons to their entry. The
    register event goes out only when something new was learned."""
    entry = await session.scalar(
        select(AtRiskEntry).where(AtRiskEntry.person_id == record.person_id).with_for_update()
    )
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
            registered_at=now,
        )
        session.add(entry)
    elif set(reasons) <= set(entry.reasons):
        return entry
    else:
        entry.reasons = sorted(set(entry.reasons) | set(reasons))
    await runtime.outbox.stage(
        session,
        AtRiskRegisteredV1(
            person_id=record.person_id,
            jurisdiction_code=record.jurisdiction_code,
            reasons=entry.reasons,
            registered_at=now,
        ),
    )
    return entry


async def flag_repeat_wandering(
    session: AsyncSession,
    runtime: Runtime,
    record: StabilisationRecord,
    *,
    admitted_person_id: uuid.UUID,
    admitting_station_id: str,
    basis: str,
    now: datetime,
) -> bool:
    """Flag, once per new stay, a person of the ledger admitted again, to the
    origin and the admitting station; they enter the at-risk register."""
    if await session.scalar(
        select(RepeatWandering.id).where(
            RepeatWandering.record_id == record.id,
            RepeatWandering.person_id == admitted_person_id,
        )
    ):
        return False
    session.add(
        RepeatWandering(
            id=uuid.uuid4(),
            record_id=record.id,
            person_id=admitted_person_id,
            origin_station_id=record.station_id,
            admitting_station_id=admitting_station_id,
            basis=basis,
            flagged_at=now,
        )
    )
    await runtime.outbox.stage(
        session,
        RepeatWanderingFlaggedV1(
            person_id=admitted_person_id,
            earlier_person_id=record.person_id,
            record_id=record.id,
            origin_station_id=record.station_id,
            admitting_station_id=admitting_station_id,
            basis=basis,
            flagged_at=now,
        ),
    )
    await register_at_risk(session, runtime, record, [REPEAT_WANDERING], AUTOMATIC, now)
    return True
