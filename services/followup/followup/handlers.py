"""Followup listens to admissions (is this a returned person again?), identities
(who they are), recognitions by search, and handovers (a record opens)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from followup.domain import at_risk_reasons, identity_key
from followup.ledger import AUTOMATIC, flag_repeat_wandering, open_record, register_at_risk
from followup.tables import Person, StabilisationRecord
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import (
    EarlierStayRecognisedV1,
    IdentityConfirmedV1,
    PersonAdmittedV1,
    PersonHandedOverV1,
)
from rescue_events.driver import begun, run, table_name, upsert_sql
from rescue_events.envelope import Envelope

# The person's projection, and whether they have a stabilisation record (returned
# home through the network before): one round trip.
REMEMBER_PERSON = (
    "WITH remembered AS ("
    + upsert_sql(Person.__table__, ("person_id", "station_id", "categories"), key="person_id")
    + f") SELECT EXISTS (SELECT 1 FROM {table_name(StabilisationRecord.__table__)} "
    "WHERE person_id = $1)"
)


def handlers(runtime: Runtime):
    async def when_person_admitted_check_ledger(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        categories = [c.value for c in event.categories]
        # Every admission of the network passes here: the projection and "has this
        # person a stabilisation record?" in one fixed statement on the driver
        # (rescue_events.driver); the ORM only for a returned person.
        driver = await begun(session)
        args = (event.person_id, event.station_id, categories)
        if not await run(REMEMBER_PERSON, driver.fetchval(REMEMBER_PERSON, *args)):
            return
        record = await _record_of(session, event.person_id)
        if record is None:
            return
        now = datetime.now(UTC)
        # Admitted again under the same person: a returned person back on the street.
        if event.admitted_at > record.handed_over_at:
            await flag_repeat_wandering(
                session,
                runtime,
                record,
                admitted_person_id=event.person_id,
                admitting_station_id=event.station_id,
                basis="same_person",
                now=now,
            )
        reasons = at_risk_reasons(categories)
        if reasons:
            await register_at_risk(session, runtime, record, reasons, AUTOMATIC, now)

    async def when_identity_confirmed_recognise_returned_person(
        session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
    ) -> None:
        key = identity_key(event.full_name, event.home_admin_code, event.home_address)
        values = dict(full_name=event.full_name, identity_key=key)
        await session.execute(
            insert(Person)
            .values(person_id=event.person_id, station_id=event.station_id, categories=[], **values)
            .on_conflict_do_update(index_elements=[Person.person_id], set_=values)
        )
        earlier = (
            await session.scalars(
                select(StabilisationRecord).where(
                    StabilisationRecord.identity_key == key,
                    StabilisationRecord.person_id != event.person_id,
                )
            )
        ).all()
        for record in earlier:
            await flag_repeat_wandering(
                session,
                runtime,
                record,
                admitted_person_id=event.person_id,
                admitting_station_id=event.station_id,
                basis="identity",
                now=datetime.now(UTC),
            )

    async def when_earlier_stay_recognised_check_ledger(
        session: AsyncSession, event: EarlierStayRecognisedV1, envelope: Envelope
    ) -> None:
        record = await _record_of(session, event.earlier_person_id)
        if record is None:
            return  # an earlier stay, but never returned home through the network
        await flag_repeat_wandering(
            session,
            runtime,
            record,
            admitted_person_id=event.person_id,
            admitting_station_id=event.station_id,
            basis=event.method.value,
            now=datetime.now(UTC),
        )

    async def when_handed_over_open_stabilisation(
        session: AsyncSession, event: PersonHandedOverV1, envelope: Envelope
    ) -> None:
        await open_record(session, runtime, event, datetime.now(UTC))

    return {
        PersonAdmittedV1: when_person_admitted_check_ledger,
        IdentityConfirmedV1: when_identity_confirmed_recognise_returned_person,
        EarlierStayRecognisedV1: when_earlier_stay_recognised_check_ledger,
        PersonHandedOverV1: when_handed_over_open_stabilisation,
    }


async def _record_of(session: AsyncSession, person_id) -> StabilisationRecord | None:
    return await session.scalar(
        select(StabilisationRecord).where(StabilisationRecord.person_id == person_id)
    )
