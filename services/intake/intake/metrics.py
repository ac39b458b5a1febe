"""Intake's figures for /metrics: admissions and who is in each station."""

from sqlalchemy import func, select

from intake.tables import Person, Stay
from rescue_chassis.metrics import WorkMetric, grouped_count


async def _admissions(session, now):
    return await grouped_count(
        session, select(Stay.station_id, func.count()).group_by(Stay.station_id)
    )


async def _in_station(session, now):
    return await grouped_count(
        session,
        select(Person.station_id, func.count())
        .where(Person.status == "in_station")
        .group_by(Person.station_id),
    )


WORK_METRICS = [
    WorkMetric(
        "rescue_admissions_total", "Persons admitted.", ("station",), _admissions, "counter"
    ),
    WorkMetric("rescue_persons_in_station", "Persons in the station.", ("station",), _in_station),
]
