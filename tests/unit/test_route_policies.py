"""Every business route of every service declares the roles that may call it
(rescue_chassis.access); the app factory refuses a service with one that does not."""

import importlib

import pytest
from fastapi import APIRouter

from rescue_chassis.access import (
    PARTNER_TYPES,
    REVIEWERS,
    STATION_WORK,
    business_routes,
    route_roles,
    unguarded_routes,
)
from rescue_chassis.auth import Role, require_roles

SERVICES = ["intake", "search", "transfer", "referral", "followup", "summary"]


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_of_every_service_has_its_roles(name):
    service = importlib.import_module(f"{name}.app").service
    assert list(business_routes(service.routers))
    assert unguarded_routes(service.routers) == []


def test_person_data_is_for_station_work_not_for_partners_auditors_or_admins():
    intake = importlib.import_module("intake.app").service
    routes = list(business_routes(intake.routers))
    # the one exception: the police's view of a check's face photo, behind a signed link
    partner = [r for r in routes if r.path.startswith("/partner/")]
    assert [(r.path, r.roles) for r in partner] == [("/partner/photos/{photo_id}", {Role.POLICE})]
    for route in (r for r in routes if r not in partner):
        assert route.roles <= set(STATION_WORK), route.path
        assert not route.roles & {*PARTNER_TYPES, Role.AUDITOR, Role.ADMIN, Role.OPS}


def test_partner_apis_are_for_their_partner_types_only():
    search = importlib.import_module("search.app").service
    referral = importlib.import_module("referral.app").service
    police = [r for r in business_routes(search.routers) if r.path.startswith("/police/")]
    assert police and all(r.roles == {Role.POLICE} for r in police)
    feeds = [r for r in business_routes(referral.routers) if r.path.startswith("/partner/")]
    assert feeds and all(r.roles == set(PARTNER_TYPES) for r in feeds)


def test_a_route_checked_twice_allows_only_what_both_allow():
    router = APIRouter(dependencies=[require_roles(*STATION_WORK)])

    @router.post("/decide", dependencies=[require_roles(*REVIEWERS)])
    async def decide():
        return {}

    @router.get("/open")
    async def nothing():
        return {}

    roles = {r.path: r.roles for r in business_routes([router])}
    assert roles["/decide"] == route_roles(next(iter(business_routes([router]))).route)
    assert roles["/decide"] == {Role.STATION_LEAD, Role.CENTER_COORDINATOR}
    assert roles["/open"] == set(STATION_WORK)
    assert unguarded_routes([APIRouter(routes=[])]) == []
    bare = APIRouter()

    @bare.get("/forgotten")
    async def forgotten():
        return {}

    assert unguarded_routes([bare]) == ["GET /forgotten"]
    # a router included in another: its prefix and its checks count
    outer = APIRouter()
    inner = APIRouter(prefix="/police", dependencies=[require_roles(Role.POLICE)])

    @inner.get("/checks")
    async def checks():
        return {}

    outer.include_router(inner)
    outer.include_router(bare)
    found = {r.path: r.roles for r in business_routes([outer])}
    assert found == {"/police/checks": {Role.POLICE}, "/forgotten": None}
