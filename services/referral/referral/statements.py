"""Referral's own SQL beside its tables: the projection every admission of the
network pays for (on the driver, rescue_events.driver), and the queries its use
cases need beyond ``get`` and ``find`` (unit tests replace these)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from referral.tables import Person, Referral
from rescue_chassis.commands import UnitOfWork
from rescue_events.contracts import IdentityConfirmedV1, PersonAdmittedV1, ReferralStatus
from rescue_events.driver import begun, run, upsert_sql

REMEMBER_PERSON = upsert_sql(
    Person.__table__,
    (
        "person_id",
        "station_id",
        "sex",
        "estimated_age",
        "categories",
        "full_name",
        "registered_home_admin_code",
    ),
    key="person_id",
)


async def remember_admitted(uow: UnitOfWork, event: PersonAdmittedV1) -> None:
    """The admitted person's projection, in one fixed statement."""
    driver = await begun(uow.session)
    args = (
        event.person_id,
        event.station_id,
        event.sex.value,
        event.estimated_age,
        [c.value for c in event.categories],
        event.full_name,
        event.registered_home_admin_code,
    )
    await run(REMEMBER_PERSON, driver.execute(REMEMBER_PERSON, *args))


async def remember_identity(uow: UnitOfWork, event: IdentityConfirmedV1) -> None:
    """The confirmed name and registered home on the person's projection."""
    values = dict(full_name=event.full_name, registered_home_admin_code=event.home_admin_code)
    await uow.session.execute(
        insert(Person)
        .values(
            person_id=event.person_id,
            station_id=event.station_id,
            sex="unknown",
            categories=[],
            **values,
        )
        .on_conflict_do_update(index_elements=[Person.person_id], set_=values)
    )


async def person_as_stored(uow: UnitOfWork, person_id: uuid.UUID) -> Person | None:
    """The person as the database has them now: the projection above is written
    beside the ORM, which may hold an older copy from an earlier event of the batch."""
    return await uow.session.get(Person, person_id, populate_existing=True)


async def waiting_referrals(uow: UnitOfWork, person_id: uuid.UUID) -> list[Referral]:
    """The person's referrals no agency was found for yet, locked."""
    found = await uow.session.scalars(
        select(Referral)
        .where(Referral.person_id == person_id, Referral.status == ReferralStatus.CREATED.value)
        .with_for_update()
    )
    return list(found.all())
