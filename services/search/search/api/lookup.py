"""Looking things up while talking with a person or a family: a place said in
dialect or half-remembered (the gazetteer), a name that sounds like others (the
name index over the whole network's history)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from rescue_chassis.access import REVIEWERS, SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from search import places, queries
from search.gazetteer.address import Address
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


class AddressLevelView(BaseModel):
    """One level of the address as understood: the division and how it was said."""

    level: str
    code: str
    name: str
    said: str
    how: str
    score: float


class AddressPlaceView(PlaceView):
    """A place found, with the parse of the whole query (the same on every place)
    and how many places fit as well as the first."""

    now_code: str = ""
    own_code: bool = True
    parse: list[AddressLevelView] = []
    rest: str = ""
    ambiguity: int = 0


@router.get("/places", response_model=list[AddressPlaceView])
async def search_places(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    q: PlaceQuery,
    province: ProvinceContext = None,
    county: CountyContext = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
):
    """Divisions of China down to the villages, current and former (a former name
    says what it is now part of), ranked: the query is understood as an address
    (several levels at once, short forms, pinyin, spoken fillers, traditional
    characters; homophones, dialect readings and typos tolerated); the context
    ranks places inside it first. Each place carries the parse and the ambiguity."""
    found = await places.address(runtime.settings.gazetteer_dir, q, province, county, limit)
    return address_views(found)


def address_views(found: Address) -> list[AddressPlaceView]:
    """The places of an understood address, each with the parse and the ambiguity."""
    parse = [AddressLevelView(**level.as_json()) for level in found.levels]
    return [
        AddressPlaceView(
            **PlaceView.of(m).model_dump(),
            now_code=m.now_code,
            own_code=m.own_code,
            parse=parse,
            rest=found.rest,
            ambiguity=found.ambiguity,
        )
        for m in found.places
    ]


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
