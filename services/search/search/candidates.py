"""Which records a new case or report is ranked against: candidates from indexes.

Ranking every open report against a new case (and every open case against a new
report) grows with the open set; at a province's scale that is 10^5 records. So
each open case and report keeps *blocking keys* in ``match_keys`` (btree) and its
sex, age and resolved place codes in ``match_profiles``, faces are found through
their HNSW index, and only the records that share a key are ranked
(search.ranking decides; this module only narrows).

The keys are derived from search.ranking's and search.names' rules so that every
pair the ranking could keep shares one (see ``candidate_keys``):

- ``n2|i|j|a|b``: two of the name's last three units (counted from the end),
  each by one of its sound forms (every reading's dialect forms, and the
  character itself);
- ``n1|a`` / ``n1~|a``: one-unit names; ``n2~|p|a|b``: two-unit names with one
  syllable one edit away (search.names "near");
- ``t|ab``: a report's name (its first two characters) heard in a case's clues;
- ``c|4115``: the city of a resolved place (filtered by sex and age in SQL); a
  place known only to its province has none: a province alone never keeps a pair
  (search.ranking), and would make ~1% of the open set candidates.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import String

from search.names import NameKeys, _loose_syllables, name_keys, near_syllables
from search.ranking import (
    AGE_CLOSE_YEARS,
    CITY_DIGITS,
    FACE_CLOSE_DISTANCE,
    ResolvedPlace,
    _significant,
)
from search.readings import dialect_forms, is_han, loose
from search.tables.faces import FaceRecord
from search.tables.matching import MatchKey, MatchProfile

# ---- keys (pure) -------------------------------------------------------------------

#: A name's units (from the end) whose pairs are keyed: with at most one unit
#: differing, two of the last three still agree.
PAIRED_UNITS = 3


def unit_forms(keys: NameKeys, i: int) -> frozenset[str]:
    """Every sound form unit ``i`` may meet another by (search.names._relation: same
    character, a shared reading, sound-alike or dialect forms of any reading)."""
    unit = keys.units[i]
    forms = {f for reading in keys.options[i] for f in dialect_forms(reading)}
    if is_han(unit):
        forms.add(f"#{unit}")
    return frozenset(forms)


def _near(keys: NameKeys, i: int, *, query: bool) -> set[str]:
    """Unit ``i``'s first reading, loose; looked up with the known syllables one
    edit away ("near"). A typed syllable that is none (a typo) is also stored
    with them: the near syllables of a known one never include it."""
    first = loose(keys.options[i][0])
    if query or first not in _loose_syllables():
        return {first, *near_syllables(first)}
    return {first}


def _name_keys(keys: NameKeys, *, query: bool) -> set[str]:
    n = len(keys.units)
    if n == 0:
        return set()
    forms = [unit_forms(keys, i) for i in range(n)]
    out: set[str] = set()
    if n == 1:
        out.update(f"n1|{f}" for f in forms[0])
        out.update(f"n1~|{x}" for x in _near(keys, 0, query=query))
        return out
    last = range(n - 1, max(-1, n - 1 - PAIRED_UNITS), -1)  # indices of the last units
    for i, j in combinations(last, 2):
        back_i, back_j = n - 1 - i, n - 1 - j
        out.update(f"n2|{back_i}|{back_j}|{a}|{b}" for a in forms[i] for b in forms[j])
    if n == 2:
        for p, q in ((0, 1), (1, 0)):
            nears = _near(keys, q, query=query)
            out.update(f"n2~|{p}|{a}|{x}" for a in forms[p] for x in nears)
    return out


def name_block_keys(names: Iterable[str], *, query: bool = False) -> set[str]:
    """The keys of names as stored (``query=False``) or looked up (``query=True``:
    near syllables added); a typed name also in its other order ("Wei Zhang")."""
    out: set[str] = set()
    for name in names:
        keys = name_keys(name)
        out |= _name_keys(keys, query=query)
        if keys.other_order:
            out |= _name_keys(name_keys(keys.other_order), query=query)
    return out


def text_keys(texts: Iterable[str]) -> set[str]:
    """Each pair of Han characters in the clues' text: a report's name heard there."""
    out: set[str] = set()
    for t in texts:
        out.update(f"t|{a}{b}" for a, b in zip(t, t[1:], strict=False) if is_han(a) and is_han(b))
    return out


def wanted_text_key(name: str | None) -> str | None:
    """The key a report's name is heard in clues by (search.ranking.judge_name)."""
    core = (name or "").strip()
    if len(core) >= 2 and all(is_han(ch) for ch in core):
        return f"t|{core[:2]}"
    return None


def place_codes(places: Sequence[ResolvedPlace]) -> list[str]:
    """The significant codes of resolved places ("411525000000" → "411525")."""
    return sorted({_significant(p.code) for p in places if p.code})


def city_keys(codes: Iterable[str]) -> set[str]:
    """The cities of significant codes ("411525" → "c|4115"); a province has none."""
    return {f"c|{c[:CITY_DIGITS]}" for c in codes if len(c) >= CITY_DIGITS}


def known_sex(sex: str | None) -> str | None:
    return sex if sex in ("male", "female") else None


@dataclass(frozen=True)
class Blocking:
    """One record's side of the index: its keys and profile (``codes`` None: its
    places are not resolved yet)."""

    keys: frozenset[str]
    sex: str | None = None
    age: int | None = None  # a case's age as ranked
    born: int | None = None  # a report's: age now = this year − born
    codes: tuple[str, ...] | None = ()
    lookup: frozenset[str] = field(default=frozenset())  # keys looked up in the other kind


# ---- the index (SQL) ------------------------------------------------------------------


_STORE = text(
    """
    WITH stale AS (
      DELETE FROM match_keys
       WHERE record_kind = :kind AND record_id = :id AND NOT (key = ANY(:keys))),
    keys AS (
      INSERT INTO match_keys (record_kind, record_id, key)
      SELECT :kind, :id, k FROM unnest(CAST(:keys AS varchar[])) AS k
      ON CONFLICT DO NOTHING)
    INSERT INTO match_profiles (record_kind, record_id, sex, age, born, codes, places_resolved)
    VALUES (:kind, :id, :sex, :age, :born, :codes, :resolved)
    ON CONFLICT (record_kind, record_id) DO UPDATE SET
      sex = excluded.sex, age = excluded.age, born = excluded.born,
      codes = excluded.codes, places_resolved = excluded.places_resolved
    """
).bindparams(bindparam("keys", type_=ARRAY(String)), bindparam("codes", type_=ARRAY(String)))


async def store(
    session: AsyncSession, record_kind: str, record_id: uuid.UUID, blocking: Blocking
) -> None:
    """Make the record's keys and profile exactly ``blocking``, in one statement."""
    keys = sorted(set(blocking.keys) | city_keys(blocking.codes or ()))
    await session.execute(
        _STORE,
        {
            "kind": record_kind,
            "id": record_id,
            "keys": keys,
            "sex": blocking.sex,
            "age": blocking.age,
            "born": blocking.born,
            "codes": list(blocking.codes or ()),
            "resolved": blocking.codes is not None,
        },
    )


async def forget(session: AsyncSession, record_kind: str, record_id: uuid.UUID) -> None:
    """A record no longer open leaves the index."""
    for model in (MatchKey, MatchProfile):
        table = model.__table__
        await session.execute(
            delete(table).where(table.c.record_kind == record_kind, table.c.record_id == record_id)
        )


async def unresolved(session: AsyncSession) -> list[tuple[str, uuid.UUID]]:
    """Records indexed while the gazetteer was not loaded: their places wait."""
    rows = await session.execute(
        select(MatchProfile.record_kind, MatchProfile.record_id).where(
            ~MatchProfile.places_resolved  # NOT places_resolved: the partial index's predicate
        )
    )
    return [(kind, record_id) for kind, record_id in rows.all()]


# A record of the other kind is a candidate when it shares a name or text key, or a
# face within the close distance, or it is among the PLACE_CANDIDATES nearest by place
# of those sharing a city under the sex and age rules below. So the candidates cover
# every name/text/face pair search.ranking.rank keeps, and every pair it keeps among
# the nearest PLACE_CANDIDATES by place (the review queue takes 20 a record:
# search.matching.MAX_PROPOSALS). Why: rank needs the face, the name or the place to
# meet. A name meets from score 0.4 (search.names), reached only
# when all units share a sound form, or all but one among ≥ 3 units, or a two-unit
# name has one syllable one edit away, or the given name (≥ 2 units) agrees at the
# end — each shares an n1/n2/n2~ key; the name heard in the clues shares its t| key.
# A place identifies only when two significant codes share a city (4 digits), hence
# a c| key. Without a face or name meeting, a differing sex is refused, and a
# differing age (gap > 7) halves the score; with every other field at its best (sex
# met, name known just short of meeting at 0.4, face unknown: 0.825 weighed) that is
# 0.5·(0.2·s + 0.05 + 0.3·0.4)/0.825 for a place scoring s: township 0.85 → 0.206
# and the very code 1.0 → 0.224 reach 0.2, county 0.7 → 0.188 and city 0.45 → 0.158
# do not. So only a shared township (9 digits) or the very code lets a differing age
# through; a shared county or city does not. Nearest: the best level shared (the very
# code 12 > township 9 > county 6 > city 4), then the age gap (unknown last), then id.
# Faces come from the HNSW index (approximate: recall ≥ 0.95, bench/face_search.py).
_CANDIDATES = text(
    """
    SELECT k.record_id FROM match_keys k
     WHERE k.record_kind = :kind AND k.key = ANY(:keys)
    UNION
    (SELECT p.record_id FROM match_profiles p
      WHERE p.record_kind = :kind
        AND p.record_id IN (SELECT k.record_id FROM match_keys k
                             WHERE k.record_kind = :kind AND k.key = ANY(:cities))
        AND (CAST(:sex AS varchar) IS NULL OR p.sex IS NULL OR p.sex = :sex)
        AND (CAST(:age AS integer) IS NULL
             OR coalesce(p.age, :year - p.born) IS NULL
             OR abs(coalesce(p.age, :year - p.born) - :age) <= :age_gap
             OR p.codes && CAST(:codes AS varchar[])
             OR EXISTS (SELECT 1 FROM unnest(p.codes) c
                         WHERE length(c) >= 9 AND left(c, 9) = ANY(:townships)))
      ORDER BY CASE
                 WHEN p.codes && CAST(:codes AS varchar[]) THEN 12
                 WHEN EXISTS (SELECT 1 FROM unnest(p.codes) c
                               WHERE length(c) >= 9 AND left(c, 9) = ANY(:townships)) THEN 9
                 WHEN EXISTS (SELECT 1 FROM unnest(p.codes) c
                               WHERE length(c) >= 6 AND left(c, 6) = ANY(:counties)) THEN 6
                 ELSE 4
               END DESC,
               abs(coalesce(p.age, :year - p.born) - CAST(:age AS integer)) NULLS LAST,
               p.record_id
      LIMIT :place_limit)
    """
).bindparams(
    bindparam("keys", type_=ARRAY(String)),
    bindparam("cities", type_=ARRAY(String)),
    bindparam("codes", type_=ARRAY(String)),
    bindparam("townships", type_=ARRAY(String)),
    bindparam("counties", type_=ARRAY(String)),
)

#: Records sharing only a city looked at per match, nearest first: a city of 河南 holds
#: thousands of open records, and the review queue takes only the best 20 of them.
PLACE_CANDIDATES = 200

#: Faces of the other kind looked at per face (nearest first), and how many index
#: tuples an iterative HNSW scan may visit to find them past the other kind's faces.
FACE_NEIGHBOURS, FACE_EF_SEARCH, FACE_MAX_SCAN = 20, 64, 20_000


def parameters(
    *,
    kind: str,
    lookup: Iterable[str],
    codes: Sequence[str],
    sex: str | None,
    age: int | None,
    year: int,
) -> dict:
    """``_CANDIDATES``' parameters for one side (bench/matching_scale.py explains it)."""
    return {
        "kind": kind,
        "keys": sorted(lookup),
        "cities": sorted(city_keys(codes)),
        "sex": known_sex(sex),
        "age": age,
        "year": year,
        "age_gap": AGE_CLOSE_YEARS,
        "codes": list(codes),
        "townships": sorted({c[:9] for c in codes if len(c) >= 9}),
        "counties": sorted({c[:6] for c in codes if len(c) >= 6}),
        "place_limit": PLACE_CANDIDATES,
    }


async def candidates(
    session: AsyncSession,
    *,
    kind: str,
    lookup: Iterable[str],
    codes: Sequence[str],
    sex: str | None,
    age: int | None,
    year: int,
    faces: Sequence[Sequence[float]] = (),
) -> set[uuid.UUID]:
    """Ids of the records of ``kind`` (case | report) that may match the other side:
    ``age`` is that side's age now (a case's as ranked, a report's this year)."""
    params = parameters(kind=kind, lookup=lookup, codes=codes, sex=sex, age=age, year=year)
    found = set((await session.scalars(_CANDIDATES, params)).all())
    if faces:
        found |= await face_candidates(session, kind=kind, faces=faces)
    return found


async def face_candidates(
    session: AsyncSession, *, kind: str, faces: Sequence[Sequence[float]]
) -> set[uuid.UUID]:
    """Records of ``kind`` with a face within the close distance of one of ``faces``."""
    owner = FaceRecord.case_id if kind == "case" else FaceRecord.report_id
    await session.execute(
        select(
            func.set_config("hnsw.ef_search", str(FACE_EF_SEARCH), True),
            func.set_config("hnsw.iterative_scan", "strict_order", True),
            func.set_config("hnsw.max_scan_tuples", str(FACE_MAX_SCAN), True),
        )
    )
    found: set[uuid.UUID] = set()
    for face in faces:
        distance = FaceRecord.embedding.l2_distance(list(face)).label("distance")
        rows = await session.execute(
            select(owner, distance)
            .where(owner.is_not(None))
            .order_by(distance)
            .limit(FACE_NEIGHBOURS)
        )
        found.update(o for o, d in rows.all() if d <= FACE_CLOSE_DISTANCE)
    return found
