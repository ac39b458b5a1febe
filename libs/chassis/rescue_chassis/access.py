"""Who may do what: the roles of every route, and station scoping.

- **Roles, on every route.** Each business route declares which roles may call
  it (``dependencies=[require_roles(*STATION_WORK)]`` or on its router); the app
  factory refuses to start with a route that declares none (``unguarded_routes``),
  so a new endpoint cannot be forgotten. Others get 403.
- **Station scoping, on every record.** A satellite sees its own persons and those
  handed to it, the center sees the network; a record outside the caller's scope
  answers 404, so its existence does not leak. A partner agency sees only what was
  addressed to it (its token's station_id names the agency).
- **A known station.** A token with a station role must name a station of the
  network (403 otherwise), on every business route: the app factory adds
  ``KNOWN_STATION`` to each, so no list answers ``[]`` for a made-up station.
  Partner tokens name an agency; a town official's token names its town or
  village code (followup scopes it to that area); ops and admin work
  network-wide; an auditor sees its station's audit entries, the center's the
  network's (rescue_chassis.audit.scope).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute

from rescue_chassis.auth import Principal, PrincipalDep, Role, current_principal
from rescue_chassis.network import Network
from rescue_chassis.refusals import Forbidden, NotFound, Refused

# ---- the roles, grouped as the work is ------------------------------------------------

#: Everyone who works at a station or the center on persons in care.
STATION_WORK = (Role.STATION_STAFF, Role.STATION_LEAD, Role.CENTER_COORDINATOR)
#: Station work plus the search specialists (identification).
SEARCH_WORK = (*STATION_WORK, Role.SEARCH_SPECIALIST)
#: Who decides: leads and the center.
LEADS = (Role.STATION_LEAD, Role.CENTER_COORDINATOR)
#: Who may decide about an identity or see network-wide search data.
REVIEWERS = (Role.SEARCH_SPECIALIST, Role.STATION_LEAD, Role.CENTER_COORDINATOR)
#: The partner agencies' systems, each also carrying its type.
PARTNER_TYPES = (
    Role.POLICE,
    Role.WOMENS_FEDERATION,
    Role.MINOR_PROTECTION,
    Role.CIVIL_AFFAIRS,
    Role.HOSPITAL,
    Role.SOCIAL_ORGANISATION,
    Role.RESCUE_STATION,
)
#: The towns and villages making revisits (their token names an area, not a station).
TOWNS = (Role.TOWN_OFFICIAL,)
#: Who reads a returned person's record and records its revisits: station work and,
#: for records whose registered home lies in their area only, the towns.
REVISIT_WORK = (*STATION_WORK, *TOWNS)
#: Reading the audit trail.
AUDITORS = (Role.AUDITOR, Role.ADMIN)
#: Running the system: health details, dead letters, replays.
OPERATORS = (Role.OPS, Role.ADMIN)

#: Sensitive personal information (PIPL art. 28) and the roles that see it in full;
#: the others see it masked or not at all. A partner sees only its referral feed.
SENSITIVE: dict[str, tuple[Role, ...]] = {
    # the number itself; everyone working on the case sees that it is confirmed
    "national_id_number": REVIEWERS,
    # sample references and DNA results: the search specialists and the center
    "dna": (Role.SEARCH_SPECIALIST, Role.CENTER_COORDINATOR),
    # face comparisons across the network (the trail, one-off face searches)
    "face": REVIEWERS,
    # that a woman fled domestic violence: leads and the center decide who is told;
    # the staff see that she is protected (her whereabouts are not given out)
    "domestic_violence": LEADS,
}


def may_see(kind: str, principal: Principal | None = None) -> bool:
    """Whether the caller (by default the current request's) sees ``kind`` in full.
    Outside a request (events, internal use) there is no caller to hide it from."""
    principal = principal if principal is not None else current_principal()
    return principal is None or principal.has_any(*SENSITIVE[kind])


#: Routes every caller may reach without a role (probes, metrics, the API docs).
OPEN_PATHS = ("/health", "/metrics", "/docs", "/redoc", "/openapi.json")


def _roles_of(dependencies) -> frozenset[Role] | None:
    """What these dependencies allow: every role check must pass, so their
    intersection; None when there is no role check among them."""
    found: frozenset[Role] | None = None
    for dependency in dependencies:
        roles = getattr(getattr(dependency, "dependency", None), "rescue_roles", None)
        if roles is None:
            roles = getattr(getattr(dependency, "call", None), "rescue_roles", None)
        if roles is not None:
            found = roles if found is None else found & roles
    return found


def route_roles(route: APIRoute) -> frozenset[Role] | None:
    """The roles a route allows (its own and its router's checks), or None."""
    return _roles_of(route.dependant.dependencies)


@dataclass(frozen=True)
class GuardedRoute:
    """A business route as served: its full path, methods and allowed roles."""

    path: str
    methods: frozenset[str]
    roles: frozenset[Role] | None
    route: APIRoute


def business_routes(routers: Iterable[APIRouter], prefix: str = "") -> Iterator[GuardedRoute]:
    """The routes of these routers but the open ones, with routers included in
    routers followed (their prefixes and role checks added)."""
    for router in routers:
        yield from _walk(router.routes, prefix, None)


def _walk(routes, prefix: str, outer: frozenset[Role] | None) -> Iterator[GuardedRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            context = route.include_context
            inner = _roles_of(context.dependencies)
            both = inner if outer is None else (outer if inner is None else outer & inner)
            yield from _walk(included.routes, prefix + context.prefix, both)
        elif isinstance(route, APIRoute):
            path = prefix + route.path
            if path.startswith(OPEN_PATHS):
                continue
            own = route_roles(route)
            roles = own if outer is None else (outer if own is None else outer & own)
            yield GuardedRoute(path, frozenset(route.methods), roles, route)


def unguarded_routes(routers: Iterable[APIRouter]) -> list[str]:
    """Business routes that declare no roles: the app factory refuses them."""
    return [f"{sorted(r.methods)[0]} {r.path}" for r in business_routes(routers) if r.roles is None]


def sees_network(principal: Principal, network: Network) -> bool:
    return principal.station_id == network.center.id


def can_see(principal: Principal, network: Network, *station_ids: str) -> bool:
    return sees_network(principal, network) or principal.station_id in station_ids


def ensure_visible(principal: Principal, network: Network, what: str, *station_ids: str) -> None:
    if not can_see(principal, network, *station_ids):
        raise NotFound(what)


def ensure_known_station(principal: Principal, network: Network) -> None:
    if network.station(principal.station_id) is None:
        raise Forbidden(
            "Unknown station", f"Station {principal.station_id!r} is not part of this network."
        )


def viewed_station(principal: Principal, network: Network, station_id: str | None) -> str:
    """The station a station view shows: the one asked for if the caller sees the
    network, else the caller's own; asking for no station of the network is a 422."""
    if station_id and network.station(station_id) is None:
        raise Refused("station_id", "is not a station of the network")
    return station_id if station_id and sees_network(principal, network) else principal.station_id


#: The roles whose work is scoped by the token's station (see KNOWN_STATION).
STATION_ROLES = frozenset(SEARCH_WORK)


async def _known_station(request: Request, principal: PrincipalDep) -> None:
    # The runtime read from the app, not as a dependency: one node less on every route.
    if principal.has_any(*STATION_ROLES):
        ensure_known_station(principal, request.app.state.runtime.network)


#: Every business route's first dependency (the app factory adds it): a token with a
#: station role names a station of the network, before any role check or lookup.
KNOWN_STATION = Depends(_known_station)
