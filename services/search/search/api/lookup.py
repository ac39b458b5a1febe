"""Looking things up while talking with a person or a family: a place said in
dialect or half-remembered (the gazetteer), a name that sounds like others (the
name index over the whole network's history)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from rescue_chassis.access import REVIEWERS, SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import Problem
from rescue_chassis.runtime import RuntimeDep
from search.names import find_names
from search.places import gazetteer
from search.visibility import case_stations

router = APIRouter(tags=["places and names"], dependencies=[require_roles(*SEARCH_WORK)])


class PlaceView(BaseModel):
    code: str
    name: str
    level: str
    path: list[str]
    path_codes: list[str]
    pinyin: str
    score: float
    current: bool
    now_part_of: PlaceView | None = None
    why: list[str]

    @classmethod
    def of(cls, match) -> PlaceView:
        return cls(
            code=match.code,
            name=match.name,
            level=match.level,
            path=list(match.path),
            path_codes=list(match.path_codes),
            pinyin=match.pinyin,
            score=round(match.score, 3),
            current=match.current,
            now_part_of=cls.of(match.now_part_of) if match.now_part_of else None,
            why=list(match.why),
        )


@router.get("/places", response_model=list[PlaceView])
async def search_places(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            description="A place as said or written: characters or pinyin, with or without "
            "spaces and suffixes (小河庄, xiao he zhuang, xiaohezhuang cun, 襄樊).",
        ),
    ],
    province: Annotated[
        str | None, Query(max_length=50, description="Context: a province (name or code).")
    ] = None,
    county: Annotated[
        str | None, Query(max_length=50, description="Context: a county (name or code).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
):
    """Divisions of China down to the villages, current and former (a former name
    says what it is now part of), ranked: homophones, dialect readings and typos
    tolerated; the context ranks places inside it first."""
    found = (await gazetteer(runtime.settings.gazetteer_dir)).search(
        q, province=province, county=county, limit=limit
    )
    return [PlaceView.of(m) for m in found]


@router.get("/places/{code}", response_model=PlaceView)
async def get_place(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    code: Annotated[str, Path(pattern=r"^\d{2,12}$", description="An administrative code.")],
):
    found = (await gazetteer(runtime.settings.gazetteer_dir)).lookup(code)
    if found is None:
        raise Problem(404, "Not found", "No division has this code.")
    return PlaceView.of(found)


class NameView(BaseModel):
    record_kind: str
    record_id: uuid.UUID
    person_id: uuid.UUID | None
    station_id: str
    name: str
    score: float
    verdict: str
    why: list[str]


@router.get(
    "/names",
    response_model=list[NameView],
    dependencies=[require_roles(*REVIEWERS)],
)
async def search_names(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            description="A name as heard or written: 王小明, 汪晓明, wang xiao ming.",
        ),
    ],
    kind: Annotated[
        Literal["case", "report"] | None,
        Query(description="Only persons of the network (case) or only families' reports."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
):
    """Names of the history that sound like this one (homophones, surname readings,
    dialect mergers), best first, each with why: of the records the caller may open
    (its station's; the center: the whole network). For search specialists, station
    leads and the center."""
    kinds = (kind,) if kind else ("case", "report")
    stations = case_stations(principal, runtime.network)  # the cases' own rule
    found = await find_names(session, q, kinds=kinds, limit=limit, stations=stations)
    return [
        NameView(
            record_kind=m.record_kind,
            record_id=m.record_id,
            person_id=m.person_id,
            station_id=m.station_id,
            name=m.name,
            score=round(m.score, 3),
            verdict=m.verdict,
            why=list(m.why),
        )
        for m in found
    ]
