"""Who sees what of search: one rule for a search case, applied as well to
everything that points to one (names, face trails, earlier-stay suggestions,
review candidates), so a lookup never shows what opening the record would refuse.

- A case (and a missing-person report) is seen by its station and the center
  (``case_stations``); others get 404 (``UnitOfWork.load``). The case follows
  its person: the station that has the person now works on it, and a station
  the person was at before keeps reading it (``readable_case``, ``readable_by``).
- Face trails, across the network, are for the reviewers (``may_see_trails``,
  access.SENSITIVE["face"]), but a record of a protected person (a
  domestic-violence victim, or marked endangered) stays with those who see the
  person's case: her whereabouts are not given to another station.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from sqlalchemy import String, cast, exists, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.access import may_see, sees_network
from rescue_chassis.auth import Principal
from rescue_chassis.commands import UnitOfWork, visible
from rescue_chassis.network import Network
from search.notices import PROTECTED_CATEGORIES
from search.tables.core import CaseStation, SearchCase
from search.tables.evidence import IdentityCandidate
from search.tables.notices import NoticeProtection


def case_stations(principal: Principal, network: Network) -> list[str] | None:
    """The stations whose cases (and reports) the caller sees; None: every station."""
    return None if sees_network(principal, network) else [principal.station_id]


def may_see_case(principal: Principal, network: Network, station_id: str) -> bool:
    """Whether the caller may see a case (or a report) of this station."""
    stations = case_stations(principal, network)
    return stations is None or station_id in stations


async def stations_of(uow: UnitOfWork, case: SearchCase) -> list[str]:
    """The station that has the case now, then those it was at before."""
    earlier = await uow.find(CaseStation, case_id=case.id)
    return list(dict.fromkeys([case.station_id, *(s.station_id for s in earlier)]))


async def readable_case(uow: UnitOfWork, case_id: uuid.UUID, what: str = "search case"):
    """The case for reading: its station, the stations it was at, the center; a 404
    for others. A protected person's case is not read where she was before: it would
    say where she is now. (Writing loads it with ``uow.load``: its station now and
    the center.)"""
    case = await uow.get(SearchCase, case_id)
    stations = [case.station_id] if case is not None else []
    if case is not None and not uow.sees(*stations) and not await _protected(uow, case):
        stations = await stations_of(uow, case)
    return visible(case, uow, what, lambda _: stations)


async def _protected(uow: UnitOfWork, case: SearchCase) -> bool:
    if PROTECTED_CATEGORIES.intersection(case.categories or []):
        return True
    flags = await uow.get(NoticeProtection, case.id)
    return bool(flags and flags.endangered)


def readable_by(stations: list[str]):
    """SQL: the SearchCase row is read by these stations (now, or before unless the
    person is protected)."""
    return or_(
        SearchCase.station_id.in_(stations),
        exists().where(CaseStation.case_id == SearchCase.id, CaseStation.station_id.in_(stations))
        & ~protected_case(),
    )


# ---- protected persons --------------------------------------------------------


def protected_case():
    """SQL: the SearchCase row is a protected person (as search.notices.protection,
    an override of the notice ban aside: it allows a notice, not a whereabouts)."""
    return or_(
        SearchCase.categories.overlap(cast(sorted(PROTECTED_CATEGORIES), ARRAY(String))),
        exists().where(
            NoticeProtection.case_id == SearchCase.id, NoticeProtection.endangered.is_(True)
        ),
    )


async def protected_cases(
    session: AsyncSession, case_ids: Iterable[uuid.UUID | str | None]
) -> set[uuid.UUID]:
    """Which of these cases are protected persons."""
    ids = {uuid.UUID(str(i)) for i in case_ids if i is not None}
    if not ids:
        return set()
    found = await session.scalars(
        select(SearchCase.id).where(SearchCase.id.in_(ids), protected_case())
    )
    return set(found.all())


# ---- review candidates ----------------------------------------------------------


def may_see_candidate(
    principal: Principal, network: Network, case_station: str, report_station: str, protected: bool
) -> bool:
    """A candidate (a case and a report): the case's station, and the report's unless
    the person is protected (the family that reported her may be whom she fled)."""
    return may_see_case(principal, network, case_station) or (
        not protected and may_see_case(principal, network, report_station)
    )


def candidate_scope(principal: Principal, network: Network):
    """SQL (candidates joined with their cases): ``may_see_candidate``; None: all."""
    stations = case_stations(principal, network)
    if stations is None:
        return None
    return or_(
        IdentityCandidate.station_id.in_(stations),
        IdentityCandidate.report_station_id.in_(stations) & ~protected_case(),
    )


# ---- face trails --------------------------------------------------------------

TrailRule = Callable[[str, uuid.UUID | str | None], bool]


def may_see_trails(principal: Principal) -> bool:
    """Who sees face trails at all: the reviewers; the staff see that a match was made."""
    return may_see("face", principal)


async def trail_rule(
    session: AsyncSession,
    principal: Principal,
    network: Network,
    case_ids: Iterable[uuid.UUID | str | None],
) -> TrailRule:
    """The one rule for face trails (an enrolment's answer, a face search, a
    suggestion), for records of these cases: shown(station_id, case_id)."""
    if not may_see_trails(principal):
        return lambda station_id, case_id: False
    protected = await protected_cases(session, case_ids)

    def shown(station_id: str, case_id: uuid.UUID | str | None) -> bool:
        if case_id is None or uuid.UUID(str(case_id)) not in protected:
            return True
        return may_see_case(principal, network, station_id)

    return shown
