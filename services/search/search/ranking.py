"""One ranking of candidates, field by field: face, name, place, age and sex.

A reviewer must see *why* a missing-person report and an admitted person might be
the same, and where they disagree, before calling a family. So the engine does not
hand back a bare number: every field is judged on its own as a match, close, a
mismatch or unknown (one side does not know it), with a sentence for the reviewer,
and the score is the weighted sum of what is known.

A pair is worth a review only when something identifying meets: the face, the
name, or places agreeing at city level or finer. A province holds tens of
millions: agreeing only there counts in the score and is shown, but proposes
nothing on its own (else a thousand proposals per new record at 10^5 open).

The parts it stands on are search.names (homophone names), search.gazetteer
(places, with former names resolved to what they became) and the face
embeddings of search.faces. Everything here is pure: the caller loads the
profiles, the face embeddings and the gazetteer, and records the result as a
suggestion for review. Nothing is ever merged automatically.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from search.faces.store import SAME_PERSON_DISTANCE
from search.faces.store import similarity as face_similarity
from search.names import name_similarity
from search.readings import is_han


class Verdict(StrEnum):
    MATCH = "match"
    CLOSE = "close"
    MISMATCH = "mismatch"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Finding:
    """One field compared: its verdict, a 0..1 score when both sides know it, and a
    sentence for the reviewer; ``identifying``: may its meeting alone keep the pair
    (not a place agreeing only at province level)."""

    field: str  # face | name | place | age | sex
    verdict: Verdict
    score: float | None
    detail: str
    identifying: bool = True

    def as_json(self) -> dict:
        return {
            "field": self.field,
            "verdict": self.verdict.value,
            "score": None if self.score is None else round(self.score, 3),
            "detail": self.detail,
        }


#: How much each field weighs when it is known. A face is the strongest evidence a
#: station has; a name may be misheard; a place may be vague; age is an estimate.
WEIGHTS = {"face": 0.35, "name": 0.30, "place": 0.20, "age": 0.10, "sex": 0.05}

#: A candidate needs at least one identifying field that meets (face, name or place,
#: the place at city level or finer: Finding.identifying).
IDENTIFYING = ("face", "name", "place")

#: Below this the pair is not worth a reviewer's time.
MIN_SCORE = 0.2

# dlib's 128-d embeddings: SAME_PERSON_DISTANCE (0.6) is the usual "same person"
# distance, below 0.5 a confident match; similarity as the trail shows it
# (search.faces.store: 1 − d/1.2, so 0.6 → 0.5).
FACE_MATCH_DISTANCE = 0.5
FACE_CLOSE_DISTANCE = SAME_PERSON_DISTANCE

AGE_MATCH_YEARS = 3
AGE_CLOSE_YEARS = 7


@dataclass(frozen=True)
class Ranked:
    score: float
    findings: tuple[Finding, ...]

    def finding(self, name: str) -> Finding:
        return next(f for f in self.findings if f.field == name)

    @property
    def signals(self) -> tuple[str, ...]:
        """The fields that met (match or close): codes only, for events."""
        return tuple(f.field for f in self.findings if f.verdict in (Verdict.MATCH, Verdict.CLOSE))

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f"{f.field}: {f.verdict.value} — {f.detail}" for f in self.findings)


# ---- the fields ------------------------------------------------------------------------


def judge_face(ours: Sequence[Sequence[float]], theirs: Sequence[Sequence[float]]) -> Finding:
    if not ours or not theirs:
        missing = "the person" if not ours else "the report"
        return Finding("face", Verdict.UNKNOWN, None, f"no face photo of {missing}")
    distance = min(math.dist(a, b) for a in ours for b in theirs)
    similarity = face_similarity(distance)
    if distance <= FACE_MATCH_DISTANCE:
        verdict = Verdict.MATCH
    elif distance <= FACE_CLOSE_DISTANCE:
        verdict = Verdict.CLOSE
    else:
        verdict = Verdict.MISMATCH
    return Finding(
        "face", verdict, similarity, f"face similarity {similarity:.2f} (distance {distance:.2f})"
    )


def judge_name(names: Iterable[str], wanted: str | None, texts: Iterable[str] = ()) -> Finding:
    names = [n for n in names if n and n.strip()]
    if not wanted or not wanted.strip():
        return Finding("name", Verdict.UNKNOWN, None, "the report gives no name")
    best = None
    for name in names:
        found = name_similarity(name, wanted)
        if best is None or found.score > best[1].score:
            best = (name, found)
    if best is not None and best[1].verdict != "mismatch":
        name, found = best
        verdict = Verdict.MATCH if found.verdict == "match" else Verdict.CLOSE
        return Finding("name", verdict, found.score, f"{name} ~ {wanted}: {'; '.join(found.why)}")
    # the name heard somewhere in the conversations (520 clues), not given as a name
    core = wanted.strip()
    if len(core) >= 2 and all(is_han(ch) for ch in core) and any(core in t for t in texts):
        return Finding("name", Verdict.CLOSE, 0.5, f"{wanted} appears in the clues")
    if best is None:
        return Finding("name", Verdict.UNKNOWN, None, "the person has given no name")
    name, found = best
    return Finding(
        "name", Verdict.MISMATCH, found.score, f"{name} ≠ {wanted}: {'; '.join(found.why)}"
    )


def judge_age(age: int | None, reported: int | None) -> Finding:
    if age is None or reported is None:
        return Finding("age", Verdict.UNKNOWN, None, "age not known on both sides")
    gap = abs(age - reported)
    detail = f"about {age}, reported {reported}"
    if gap <= AGE_MATCH_YEARS:
        return Finding("age", Verdict.MATCH, 1.0, detail)
    if gap <= AGE_CLOSE_YEARS:
        return Finding("age", Verdict.CLOSE, 0.5, detail)
    return Finding("age", Verdict.MISMATCH, 0.0, detail)


def judge_sex(sex: str | None, reported: str | None) -> Finding:
    ours = sex if sex in ("male", "female") else None
    theirs = reported if reported in ("male", "female") else None
    if not ours or not theirs:
        return Finding("sex", Verdict.UNKNOWN, None, "sex not known on both sides")
    if ours == theirs:
        return Finding("sex", Verdict.MATCH, 1.0, f"both {ours}")
    return Finding("sex", Verdict.MISMATCH, 0.0, f"{ours}, reported {theirs}")


# Places are compared by their official codes once resolved: the longer the shared
# prefix, the nearer (province 2 digits, city 4, county 6, township 9, village 12).
_LEVEL_SCORES = ((12, 1.0, "same village"), (9, 0.85, "same township"), (6, 0.7, "same county"),
                 (4, 0.45, "same city"), (2, 0.25, "same province"))  # fmt: skip

#: Places identify a pair only when they agree on this many digits (a city) or more.
CITY_DIGITS = 4


@dataclass(frozen=True)
class ResolvedPlace:
    """A place as said, resolved to a current division (former names followed)."""

    said: str
    code: str
    path: tuple[str, ...]
    confidence: float


@lru_cache(maxsize=65_536)  # ranked for every candidate pair: codes repeat
def _shared_level(a: str, b: str) -> tuple[float, str, int] | None:
    """Score, label and the digits the two significant codes agree on."""
    if a == b:
        return 1.0, "same place", len(a)
    for digits, score, label in _LEVEL_SCORES:
        if len(a) >= digits and len(b) >= digits and a[:digits] == b[:digits]:
            return score, label, digits
    return None


@lru_cache(maxsize=65_536)
def _significant(code: str) -> str:
    """Codes are padded with zeros: "411525000000" is the county 411525."""
    stripped = code.rstrip("0")
    for length in (2, 4, 6, 9, 12):
        if len(stripped) <= length:
            return code[:length]
    return code


def judge_place(ours: Sequence[ResolvedPlace], theirs: Sequence[ResolvedPlace]) -> Finding:
    if not ours or not theirs:
        missing = "the person's" if not ours else "the report's"
        return Finding("place", Verdict.UNKNOWN, None, f"none of {missing} places is known")
    best: tuple[bool, float, str, ResolvedPlace, ResolvedPlace] | None = None
    for a in ours:
        for b in theirs:
            shared = _shared_level(_significant(a.code), _significant(b.code))
            if shared is None:
                continue
            # a city agreement, however unsure, is the lead to show before a province's
            found = (shared[2] >= CITY_DIGITS, shared[0] * min(a.confidence, b.confidence))
            if best is None or found > best[:2]:
                best = (*found, shared[1], a, b)
    if best is None:
        a, b = ours[0], theirs[0]
        return Finding(
            "place",
            Verdict.MISMATCH,
            0.0,
            f"{a.said} ({'/'.join(a.path)}) and {b.said} ({'/'.join(b.path)}) lie apart",
        )
    identifying, score, label, a, b = best
    verdict = Verdict.MATCH if score >= 0.6 else Verdict.CLOSE
    where = "/".join(b.path)
    detail = f"{label}: {a.said} ~ {b.said} ({where})"
    return Finding("place", verdict, score, detail, identifying=identifying)


# ---- the whole ranking -------------------------------------------------------------------


@dataclass(frozen=True)
class Sides:
    """What both sides know, ready to compare: the admitted person and a report."""

    names: Sequence[str] = ()
    texts: Sequence[str] = ()
    wanted_name: str | None = None
    sex: str | None = None
    reported_sex: str | None = None
    age: int | None = None
    reported_age: int | None = None
    places: Sequence[ResolvedPlace] = ()
    reported_places: Sequence[ResolvedPlace] = ()
    faces: Sequence[Sequence[float]] = ()
    reported_faces: Sequence[Sequence[float]] = field(default=())


def weighted_score(findings: Iterable[Finding]) -> float:
    """What is known, weighted, over what could have been known. A field neither side
    knows counts half against the pair: a match on name and place alone is a good
    lead, not a certainty, and a face would have settled it."""
    known = unknown = total = 0.0
    for f in findings:
        if f.score is None:
            unknown += WEIGHTS[f.field]
        else:
            known += WEIGHTS[f.field]
            total += WEIGHTS[f.field] * f.score
    return total / (known + 0.5 * unknown) if known else 0.0


def _meets(finding: Finding) -> bool:
    return finding.identifying and finding.verdict in (Verdict.MATCH, Verdict.CLOSE)


def rank(sides: Sides) -> Ranked | None:
    """The pair with its findings, or None when it is not worth a review: nothing
    identifying meets (a province alone is not), or the sex differs and no face
    says otherwise."""
    findings = (
        judge_face(sides.faces, sides.reported_faces),
        judge_name(sides.names, sides.wanted_name, sides.texts),
        judge_place(sides.places, sides.reported_places),
        judge_age(sides.age, sides.reported_age),
        judge_sex(sides.sex, sides.reported_sex),
    )
    by_field = {f.field: f for f in findings}
    face_met = by_field["face"].verdict is Verdict.MATCH
    if not any(_meets(by_field[f]) for f in IDENTIFYING):
        return None
    # A clear face mismatch outweighs a homophone name: two people called 王伟 and
    # 汪伟. Only the very same written name keeps the pair (old photos mislead).
    if by_field["face"].verdict is Verdict.MISMATCH and (by_field["name"].score or 0) < 1.0:
        return None
    # Staff judge sex by appearance; a confident face match overrules it.
    if by_field["sex"].verdict is Verdict.MISMATCH and not face_met:
        return None
    score = weighted_score(findings)
    if by_field["age"].verdict is Verdict.MISMATCH and not face_met:
        score *= 0.5
    if score < MIN_SCORE:
        return None
    return Ranked(round(min(score, 1.0), 3), findings)


# ---- places as said, resolved through the gazetteer ---------------------------------------

#: Only gazetteer answers at least this sure stand for a place said.
MIN_PLACE_CONFIDENCE = 0.5


def place_resolver(search: Callable[..., list]) -> Callable[[str], tuple[ResolvedPlace, ...]]:
    """Resolves free text ("河南固始", "老家是信阳的", "xiao he zhuang", "南汇县") to
    current places through a gazetteer's ``find`` (the address understanding) or
    ``search``, remembering what it resolved."""

    @lru_cache(maxsize=20_000)
    def resolve(text: str) -> tuple[ResolvedPlace, ...]:
        text = text.strip()
        if not text:
            return ()
        found = []
        for match in search(text, limit=3):
            if match.score < MIN_PLACE_CONFIDENCE:
                continue
            current = match.now_part_of or match
            found.append(ResolvedPlace(text, current.code, tuple(current.path), match.score))
        return tuple(found)

    return resolve
