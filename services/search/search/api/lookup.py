"""Looking things up while talking with a person or a family: a place said in
dialect or half-remembered (the gazetteer), a name that sounds like others (the
name index over the whole network's history)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from rescue_chassis.access import REVIEWERS, SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from search import queries
from search.queries import NameView, PlaceView

router = APIRouter(tags=["places and names"], dependencies=[require_roles(*SEARCH_WORK)])

PlaceQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=100,
        description="A place as said or written: characters or pinyin, with or without "
        "spaces and suffixes (小河庄, xiao he zhuang, xiaohezhuang cun, 襄樊).",
    ),
]
ProvinceContext = Annotated[
    str | None, Query(max_length=50, description="Context: a province (name or code).")
]
CountyContext = Annotated[
    str | None, Query(max_length=50, description="Context: a county (name or code).")
]
NameQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=100,
        description="A name as heard or written: 王小明, 汪晓明, wang xiao ming.",
    ),
]
RecordKind = Annotated[
    Literal["case", "report"] | None,
    Query(description="Only persons of the network (case) or only families' reports."),
]


@router.get("/places", response_model=list[PlaceView])
async def search_places(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    q: PlaceQuery,
    province: ProvinceContext = None,
    county: CountyContext = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
):
    """Divisions of China down to the villages, current and former (a former name
    says what it is now part of), ranked: homophones, dialect readings and typos
    tolerated; the context ranks places inside it first."""
    return await queries.places(runtime.settings, q, province, county, limit)


@router.get("/places/{code}", response_model=PlaceView)
async def get_place(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    code: Annotated[str, Path(pattern=r"^\d{2,12}$", description="An administrative code.")],
):
    return await queries.place(runtime.settings, code)


@router.get(
    "/names",
    response_model=list[NameView],
    dependencies=[require_roles(*REVIEWERS)],
)
async def search_names(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    q: NameQuery,
    kind: RecordKind = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
):
    """Names of the history that sound like this one (homophones, surname readings,
    dialect mergers), best first, each with why: of the records the caller may open
    (its station's; the center: the whole network). For search specialists, station
    leads and the center."""
    return await queries.names(UnitOfWork(session, runtime, principal), q, kind, limit)
