"""Followup's own SQL beside its tables: the statement every admission of the
network pays for (on the driver, rescue_events.driver), and the queries its use
cases need beyond ``get`` and ``find`` (unit tests replace these)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from followup.tables import AtRiskEntry, Person, Revisit, StabilisationRecord
from rescue_chassis.commands import UnitOfWork
from rescue_events.contracts import IdentityConfirmedV1, PersonAdmittedV1
from rescue_events.driver import begun, run, table_name, upsert_sql

# The person's projection, and whether they have a stabilisation record (returned
# home through the network before): one round trip.
REMEMBER_PERSON = (
    "WITH remembered AS ("
    + upsert_sql(Person.__table__, ("person_id", "station_id", "categories"), key="person_id")
    + f") SELECT EXISTS (SELECT 1 FROM {table_name(StabilisationRecord.__table__)} "
    "WHERE person_id = $1)"
)


async def remember_admitted(uow: UnitOfWork, event: PersonAdmittedV1) -> bool:
    """The admitted person's projection; whether they returned home through the
    network before (have a stabilisation record)."""
    driver = await begun(uow.session)
    args = (event.person_id, event.station_id, [c.value for c in event.categories])
    return bool(await run(REMEMBER_PERSON, driver.fetchval(REMEMBER_PERSON, *args)))


async def remember_identity(uow: UnitOfWork, event: IdentityConfirmedV1, key: str) -> None:
    """The confirmed name and the identity key on the person's projection."""
    values = dict(full_name=event.full_name, identity_key=key)
    await uow.session.execute(
        insert(Person)
        .values(person_id=event.person_id, station_id=event.station_id, categories=[], **values)
        .on_conflict_do_update(index_elements=[Person.person_id], set_=values)
    )


async def records_of_identity(
    uow: UnitOfWork, key: str, *, besides: uuid.UUID
) -> list[StabilisationRecord]:
    """Records of the same identity (name and home) under another person id."""
    found = await uow.session.scalars(
        select(StabilisationRecord).where(
            StabilisationRecord.identity_key == key, StabilisationRecord.person_id != besides
        )
    )
    return list(found.all())


async def revisit_of(uow: UnitOfWork, record_id: uuid.UUID, sequence: int) -> Revisit | None:
    """A record's revisit, locked: the overdue sweep may be at it too."""
    return await uow.session.scalar(
        select(Revisit)
        .where(Revisit.record_id == record_id, Revisit.sequence == sequence)
        .with_for_update()
    )


async def register_entry(uow: UnitOfWork, person_id: uuid.UUID) -> AtRiskEntry | None:
    """The person's entry in the at-risk register, locked while reasons are added."""
    return await uow.session.scalar(
        select(AtRiskEntry).where(AtRiskEntry.person_id == person_id).with_for_update()
    )
