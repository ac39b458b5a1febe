"""Person names: homophone and near-homophone matching of Chinese names.

A family reports a missing 王小明; the person at the station said "wang xiao ming",
or the staff wrote 汪晓明; a southern speaker's 张 sounds like 臧 (zh/z), 刘 like
牛 (n/l), 黄 like 房 (f/h). Names are therefore matched on their readings
(search.readings), not on their characters:

- ``name_keys`` splits a name into surname and given name (compound surnames
  such as 欧阳, 尉迟 and 万俟 included) and gives its reading keys: the exact
  toneless readings ("wang xiao ming") and the dialect-merged ones ("wan xiao
  min"), of the full name and of the given name. A surname has one reading: the
  correction table's (曾 is "zeng", never "ceng"), else pypinyin's usual one.
  Given-name characters have every reading, their usual one first.
- ``name_similarity`` compares two names syllable by syllable and explains
  itself: "same characters" 1.0, "same reading" ~0.9, "dialect: zh/z" ~0.75,
  "one syllable differs" ~0.5, "given name only" ~0.6; verdict "match" from 0.7,
  "close" from 0.4, else "mismatch".
- ``index_name`` / ``unindex`` / ``find_names`` keep and search the name index
  (table ``name_index``): one row per name and exact reading, found by its
  dialect-merged key (btree), by the key of its given name (the surname was
  misheard, or only the given name is known), and by the keys one syllable away
  (near-homophones); the few hundred rows found are reranked here with
  ``name_similarity``.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from itertools import islice

from rapidfuzz.distance import OSA
from sqlalchemy import bindparam, delete, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import String

from search.readings import (
    char_readings,
    combinations,
    corrections,
    dialect_forms,
    is_han,
    loose,
    pypinyin,
    sound_alike,
    syllables,
)
from search.readings import split_pinyin as _split_pinyin
from search.tables.names import NameEntry

#: Compound surnames (复姓), the commonest first. A name of three or more characters
#: that starts with one has a two-character surname.
COMPOUND_SURNAMES: tuple[str, ...] = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "司徒", "司空", "令狐", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门",
    "万俟", "闻人", "呼延", "申屠", "太史", "钟离", "澹台", "公冶", "宗政", "濮阳",
    "淳于", "单于", "赫连", "百里", "东郭", "拓跋", "第五", "左丘", "谷梁", "公羊",
    "羊舌", "微生", "梁丘", "巫马", "漆雕", "乐正", "壤驷", "公良", "夹谷", "宰父",
    "段干", "子车", "颛孙", "亓官", "司寇", "仉督", "鲜于", "闾丘", "公西", "南门",
    "东门", "西乡", "公户", "公玉", "公仪", "梁余", "公仲", "公上", "钟吾",
)  # fmt: skip

#: The commonest single surnames (about 100, by frequency): their readings tell
#: "Xiaoming Wang" (given name first) from "Wang Xiaoming".
COMMON_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
    "于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷"
    "龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤康易乔赖文"
)

#: What is written when there is no name: never indexed, never searched.
PLACEHOLDERS = frozenset(
    {"不详", "未知", "无名", "无名氏", "不知道", "不清楚", "佚名", "某某", "无", "没有", "unknown"}
)

#: Longest name considered (characters or syllables); longer text is cut.
MAX_UNITS = 12
#: Exact readings (rows) indexed per name.
MAX_INDEXED_READINGS = 16

MATCH, CLOSE, MISMATCH = "match", "close", "mismatch"
MATCH_FROM, CLOSE_FROM = 0.7, 0.4


# ---- keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NameKeys:
    """The normalised name and its reading keys. ``units`` are its characters (or
    typed syllables); ``options`` each unit's readings, the usual ones first (the
    first ``usual[i]`` of them: pypinyin's usual reading and the correction table's;
    the rest are pypinyin's rarer readings)."""

    name: str
    typed: bool
    units: tuple[str, ...]
    options: tuple[tuple[str, ...], ...]
    usual: tuple[int, ...]
    surname_len: int
    readings: tuple[str, ...]
    loose_keys: tuple[str, ...]
    given_readings: tuple[str, ...]
    given_loose_keys: tuple[str, ...]
    #: the typed name in the other order ("zhang wei" for "Wei Zhang"): two
    #: words in pinyin may put the given name first (foreign-style forms, IDs)
    other_order: str = ""

    @property
    def chars(self) -> str:
        """The Han characters of the name ("" when typed)."""
        return "".join(u for u in self.units if is_han(u))

    @property
    def surname(self) -> str:
        return _join(self.units[: self.surname_len])

    @property
    def given(self) -> str:
        return _join(self.units[self.surname_len :])

    @property
    def reading(self) -> str:
        """The usual reading of the whole name: "wang xiao ming"."""
        return self.readings[0] if self.readings else ""

    def rows(self, limit: int = MAX_INDEXED_READINGS) -> list[tuple[str, str, str]]:
        """(reading, loose_key, given_loose_key) of each indexed exact reading."""
        out = []
        for reading in self.readings[:limit]:
            syl = reading.split(" ")
            given = syl[self.surname_len :]
            out.append((reading, _loose_key(syl), _loose_key(given)))
        return out


def _join(units: Sequence[str]) -> str:
    return "".join(units) if all(is_han(u) for u in units) else " ".join(units)


def _loose_key(syl: Iterable[str]) -> str:
    return " ".join(loose(s) for s in syl)


@cache
def usual_reading(ch: str) -> str:
    """pypinyin's usual reading of one character (its first heteronym), not the
    correction table's first (that is a place reading: 乐 "lao" of 乐亭)."""
    found = pypinyin().pinyin(ch, style=pypinyin().Style.NORMAL, errors="ignore")
    return found[0][0].replace("ü", "v") if found and found[0] else char_readings(ch)[0]


@cache
def _given_options(ch: str) -> tuple[tuple[str, ...], int]:
    """A character's readings, the usual ones first, and how many are usual."""
    if not is_han(ch):
        return (ch,), 1
    usual = [usual_reading(ch)]
    corrected = corrections()["characters"].get(ch)
    if corrected and corrected[0] not in usual:
        usual.append(corrected[0])
    return (*usual, *(r for r in char_readings(ch) if r not in usual)), len(usual)


@cache
def _surname_options(surname: str) -> tuple[tuple[str, ...], ...]:
    table = corrections()["surnames"]
    if surname in table and len(table[surname]) == len(surname):
        return tuple((r,) for r in table[surname])
    return tuple((table[ch][0],) if ch in table else (usual_reading(ch),) for ch in surname)


@cache
def _compound_readings() -> frozenset[str]:
    table = corrections()["surnames"]
    out = set()
    for s in COMPOUND_SURNAMES:
        out.add(" ".join(table[s]) if s in table else " ".join(usual_reading(c) for c in s))
    return frozenset(out)


@cache
def _common_surname_readings() -> frozenset[str]:
    return frozenset(_surname_options(ch)[0][0] for ch in COMMON_SURNAMES)


_SEPARATORS = re.compile(r"[\s·•・.,，'’\-_/]+")


def _units(name: str) -> tuple[tuple[str, ...], bool]:
    """The characters, or typed syllables, of a name; and whether it was typed."""
    text = unicodedata.normalize("NFKC", name).strip()
    if any(is_han(ch) for ch in text):
        units: list[str] = []
        latin = []
        for ch in text + " ":
            if is_han(ch):
                if latin:
                    units.extend(_split_pinyin("".join(latin)))
                    latin = []
                units.append(ch)
            elif ch.isascii() and ch.isalpha():
                latin.append(ch)
            elif latin:
                units.extend(_split_pinyin("".join(latin)))
                latin = []
        return tuple(units[:MAX_UNITS]), False
    tokens = [t for t in _SEPARATORS.split(text) if t]
    pieces = [_split_pinyin(t) for t in tokens]
    # "Xiaoming Wang": the given name first, as written abroad
    if (
        len(pieces) == 2
        and len(pieces[0]) >= 2
        and len(pieces[1]) == 1
        and pieces[1][0] in _common_surname_readings()
        and " ".join(pieces[0][:2]) not in _compound_readings()
    ):
        pieces = [pieces[1], pieces[0]]
    return tuple(s for p in pieces for s in p)[:MAX_UNITS], True


def _other_order(name: str) -> str:
    """Two typed words swapped ("Wei Zhang" → "Zhang Wei"), else ""."""
    text = unicodedata.normalize("NFKC", name).strip()
    if any(is_han(ch) for ch in text):
        return ""
    tokens = [t for t in _SEPARATORS.split(text) if t]
    return f"{tokens[1]} {tokens[0]}" if len(tokens) == 2 else ""


def _surname_len(units: Sequence[str], typed: bool) -> int:
    if not units:
        return 0
    if len(units) >= 3:
        if typed and " ".join(units[:2]) in _compound_readings():
            return 2
        if not typed and "".join(units[:2]) in COMPOUND_SURNAMES:
            return 2
    return 1


@lru_cache(maxsize=200_000)
def name_keys(name: str) -> NameKeys:
    """The normalised name, its surname/given split and its reading keys, for every
    reading combination (bounded). Typed pinyin ("Wang Xiaoming") is accepted."""
    units, typed = _units(name)
    if not units or "".join(units).lower() in PLACEHOLDERS:
        return NameKeys("", typed, (), (), (), 0, (), (), (), ())
    n_surname = _surname_len(units, typed)
    if typed:
        options, usual = tuple((u,) for u in units), (1,) * len(units)
    else:
        surname = "".join(units[:n_surname])
        # a doubled name (乐乐, 单单) is a pet name: no surname reading
        doubled = len(units) == 2 and units[0] == units[1]
        if doubled or not all(is_han(u) for u in units[:n_surname]):
            given_from = 0
            options, usual = (), ()
        else:
            given_from = n_surname
            options = _surname_options(surname)
            usual = (1,) * n_surname
        for u in units[given_from:]:
            readings, n_usual = _given_options(u)
            options += (readings,)
            usual += (n_usual,)
    readings = tuple(" ".join(c) for c in combinations(list(options)))
    given = tuple(dict.fromkeys(" ".join(c) for c in combinations(list(options[n_surname:]))))
    return NameKeys(
        name=_join(units),
        typed=typed,
        units=units,
        options=options,
        usual=usual,
        surname_len=n_surname,
        readings=readings,
        loose_keys=tuple(dict.fromkeys(_loose_key(r.split(" ")) for r in readings)),
        given_readings=given if n_surname < len(units) else (),
        given_loose_keys=(
            tuple(dict.fromkeys(_loose_key(r.split(" ")) for r in given))
            if n_surname < len(units)
            else ()
        ),
        other_order=_other_order(name) if typed else "",
    )


def split_names(text: str | None) -> list[str]:
    """The names in a list as staff write it: "王小明、小明，明子" → three names."""
    if not text:
        return []
    parts = re.split(r"[、，,;；/|\n]+", text)
    return [p.strip() for p in parts if p.strip() and name_keys(p.strip()).name]


# ---- similarity -----------------------------------------------------------------------

# How two syllables (with their characters) relate, best first.
_SAME_CHAR, _SAME_READING, _CLOSE, _DIALECT_FAR, _NEAR, _DIFFERENT = 5, 4, 3, 2, 1, 0

_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q")
_INITIALS += ("x", "r", "z", "c", "s", "y", "w")
_INITIAL_LABELS = {
    frozenset(("zh", "z")): "zh/z",
    frozenset(("ch", "c")): "ch/c",
    frozenset(("sh", "s")): "sh/s",
    frozenset(("n", "l")): "n/l",
    frozenset(("r", "l")): "r/l",
    frozenset(("f", "h")): "f/h",
    frozenset(("h", "w")): "h/w",
    frozenset(("h", "")): "h/w",
}


def _split_syllable(s: str) -> tuple[str, str]:
    for initial in _INITIALS:
        if s.startswith(initial) and len(s) > len(initial):
            return initial, s[len(initial) :]
    return "", s


def _hw(s: str) -> str:
    """黄/王, 胡/吴: Wu and Gan speakers merge hu- and w- (on loose syllables)."""
    if s.startswith("hu"):
        rest = s[2:]
        return {"": "wu", "n": "wen", "i": "wei"}.get(rest, "w" + rest)
    return s


def _dialect_label(a: str, b: str) -> str:
    """Why two different syllables sound alike: "zh/z", "n/l", "f/h", "-ng/-n"."""
    ia, fa = _split_syllable(a)
    ib, fb = _split_syllable(b)
    labels = []
    if ia != ib:
        labels.append(_INITIAL_LABELS.get(frozenset((ia, ib)), f"{ia or '-'}/{ib or '-'}"))
    if fa != fb and {ia, ib} != {"f", "h"} and "h/w" not in labels:
        if fa.rstrip("g") == fb.rstrip("g"):
            labels.append("-ng/-n")
        elif fa.replace("v", "u") == fb.replace("v", "u"):
            labels.append("ü/u")
        else:
            labels.append(f"{fa}/{fb}")
    return "dialect: " + ", ".join(labels)


@cache
def _loose_syllables() -> tuple[str, ...]:
    return tuple(sorted({loose(s) for s in syllables()}))


@cache
def near_syllables(loose_syllable: str) -> tuple[str, ...]:
    """Loose syllables one edit away (a letter changed, added, dropped or two
    swapped: "xaio" → "xiao") or merged by h/w; the syllable itself excluded."""
    out = [
        s
        for s in _loose_syllables()
        if s != loose_syllable and (OSA.distance(s, loose_syllable, score_cutoff=1) <= 1)
    ]
    hw = _hw(loose_syllable)
    out.extend(s for s in _loose_syllables() if _hw(s) == hw and s != loose_syllable)
    return tuple(dict.fromkeys(out))


def _relation(ka: NameKeys, i: int, kb: NameKeys, j: int) -> tuple[int, str, str]:
    """How unit ``i`` of one name and unit ``j`` of another relate: the level, the
    reason when it is not plain, and the reading they share (if any)."""
    ua, ub = ka.units[i], kb.units[j]
    oa, ob = ka.options[i], kb.options[j]
    usual_a, usual_b = oa[: ka.usual[i]], ob[: kb.usual[j]]
    if ua == ub and is_han(ua):
        return _SAME_CHAR, "", usual_a[0]
    shared = [r for r in usual_a if r in usual_b]
    if shared:
        both_han = is_han(ua) and is_han(ub)
        return _SAME_READING, f"homophone: {ua}/{ub}" if both_han else "", shared[0]
    # the mergers as places have them (search.readings.dialect_forms): -ng/-n of
    # f- syllables (峰/芬) and h/w (黄/王) included
    for ra in usual_a:
        for rb in usual_b:
            if sound_alike(ra, rb):
                return _CLOSE, _dialect_label(ra, rb), ""
    common = [r for r in oa if r in ob]
    if common:
        han = ua if is_han(ua) and common[0] not in usual_a else ub
        return _DIALECT_FAR, f"other reading: {han} ({common[0]})", ""
    if {f for r in oa for f in dialect_forms(r)} & {f for r in ob for f in dialect_forms(r)}:
        return _DIALECT_FAR, f"sounds alike: {ua}/{ub}", ""
    la, lb = loose(usual_a[0]), loose(usual_b[0])
    if OSA.distance(la, lb, score_cutoff=1) <= 1:
        return _NEAR, f"near: {usual_a[0]}/{usual_b[0]}", ""
    return _DIFFERENT, f"differs: {usual_a[0]}/{usual_b[0]}", ""


@dataclass(frozen=True)
class NameSimilarity:
    """How alike two names sound: ``score`` 0..1, a ``verdict`` and short reasons."""

    score: float
    verdict: str
    why: tuple[str, ...]


def _verdict(score: float) -> str:
    return MATCH if score >= MATCH_FROM else CLOSE if score >= CLOSE_FROM else MISMATCH


def _result(score: float, why: Iterable[str]) -> NameSimilarity:
    score = round(max(0.0, min(1.0, score)), 3)
    return NameSimilarity(score, _verdict(score), tuple(dict.fromkeys(w for w in why if w)))


def name_similarity(a: str, b: str) -> NameSimilarity:
    """How alike two names sound (either may be typed pinyin), explained."""
    return keys_similarity(name_keys(a), name_keys(b))


def _aligned(
    ka: NameKeys, ia: Sequence[int], kb: NameKeys, ib: Sequence[int]
) -> list[tuple[int, str, str]]:
    return [_relation(ka, i, kb, j) for i, j in zip(ia, ib, strict=True)]


def keys_similarity(ka: NameKeys, kb: NameKeys) -> NameSimilarity:
    """``name_similarity`` on names already keyed (the index reranks with this);
    a typed name of two words is also read in the other order ("Wei Zhang")."""
    best = _keys_similarity(ka, kb)
    for a, b in ((ka.other_order, None), (None, kb.other_order)):
        if not (a or b):
            continue
        other = _keys_similarity(name_keys(a), kb) if a else _keys_similarity(ka, name_keys(b))
        if other.score > best.score:
            best = _result(other.score, ("given name first", *other.why))
    return best


def _keys_similarity(ka: NameKeys, kb: NameKeys) -> NameSimilarity:
    if not ka.units or not kb.units:
        return _result(0.0, ("no name",))
    n = len(ka.units)
    if n == len(kb.units):
        rel = _aligned(ka, range(n), kb, range(n))
        return _same_length(ka, kb, rel)
    short, long_ = (ka, kb) if len(ka.units) < len(kb.units) else (kb, ka)
    m, offset = len(short.units), len(long_.units) - len(short.units)
    # the given name alone ("小明" for 王小明), or a name without its surname
    if offset == long_.surname_len or (m >= 2 and offset <= long_.surname_len):
        rel = _aligned(short, range(m), long_, range(offset, len(long_.units)))
        worst = min(r for r, _, _ in rel)
        if worst >= _CLOSE:
            strength = 0.62 if m >= 2 else 0.3
            if worst < _SAME_READING:
                strength -= 0.07
            return _result(strength, ("given name only", *(w for _, w, _ in rel)))
    # different lengths otherwise: only a faint, fuzzy likeness
    la, lb = " ".join(loose(o[0]) for o in ka.options), " ".join(loose(o[0]) for o in kb.options)
    ratio = 1 - OSA.normalized_distance(la, lb)
    return _result(0.35 * ratio, ("different length",))


def _same_length(ka: NameKeys, kb: NameKeys, rel: list[tuple[int, str, str]]) -> NameSimilarity:
    n = len(rel)
    levels = [r for r, _, _ in rel]
    reasons = [w for _, w, _ in rel]
    worst = min(levels)
    if worst == _SAME_CHAR:
        return _result(1.0, ("same characters",))
    same_chars = sum(r == _SAME_CHAR for r in levels) / n
    at_least_reading = sum(r >= _SAME_READING for r in levels) / n
    if worst >= _SAME_READING:
        shared = " ".join(s for _, _, s in rel)
        return _result(0.9 + 0.08 * same_chars, (f"same reading ({shared})", *reasons))
    if worst >= _CLOSE:
        return _result(0.75 + 0.1 * at_least_reading, reasons)
    weak = [i for i, r in enumerate(levels) if r < _CLOSE]
    if worst == _DIALECT_FAR and len(weak) <= max(1, n // 2):
        return _result(0.62 + 0.05 * at_least_reading, reasons)
    if len(weak) == 1:
        (i,) = weak
        level = levels[i]
        others = [w for j, w in enumerate(reasons) if j != i]
        in_surname = i < min(ka.surname_len, kb.surname_len)
        given_same = in_surname and all(levels[j] >= _CLOSE for j in range(ka.surname_len, n))
        if n >= 3:
            score = 0.55 if level == _NEAR else 0.45
            if given_same:
                why = ("surname differs", reasons[i], "given name only", *others)
                return _result(score + 0.05, why)
            return _result(score, ("one syllable differs", reasons[i], *others))
        if level == _NEAR:
            return _result(0.42, ("one syllable differs", reasons[i], *others))
        return _result(0.2, ("surname differs" if in_surname else "given name differs",))
    matched = sum(r >= _CLOSE for r in levels) / n
    return _result(0.3 * matched, ("different names",))


# ---- the index ------------------------------------------------------------------------


@dataclass(frozen=True)
class NameMatch:
    record_kind: str
    record_id: uuid.UUID
    person_id: uuid.UUID | None
    station_id: str
    name: str
    score: float
    verdict: str
    why: tuple[str, ...]


RECORD_KINDS = ("case", "report")


async def index_name(
    session: AsyncSession,
    *,
    record_kind: str,
    record_id: uuid.UUID,
    station_id: str,
    name: str,
    person_id: uuid.UUID | None = None,
) -> int:
    """Index one name of a record (idempotent per record and name); the number of
    readings indexed, 0 for a placeholder ("不详") or an empty name."""
    if record_kind not in RECORD_KINDS:
        raise ValueError(f"unknown record kind {record_kind!r}")
    keys = name_keys(name)
    if not keys.name:
        return 0
    rows = keys.rows()
    if keys.other_order:  # found in either order
        rows += [r for r in name_keys(keys.other_order).rows() if r not in rows]
    now = datetime.now(UTC)
    values = [
        dict(
            record_kind=record_kind,
            record_id=record_id,
            name=keys.name[:100],
            reading=reading,
            person_id=person_id,
            station_id=station_id,
            loose_key=loose_key,
            given_loose_key=given_key,
            indexed_at=now,
        )
        for reading, loose_key, given_key in rows
    ]
    table = NameEntry.__table__
    statement = insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["record_kind", "record_id", "name", "reading"],
        set_={
            "person_id": statement.excluded.person_id,
            "station_id": statement.excluded.station_id,
        },
    )
    await session.execute(statement)
    # readings no longer produced (the correction table changed) go
    await session.execute(
        delete(table).where(
            table.c.record_kind == record_kind,
            table.c.record_id == record_id,
            table.c.name == keys.name[:100],
            table.c.reading.not_in([r for r, _, _ in rows]),
        )
    )
    return len(rows)


async def index_names(
    session: AsyncSession,
    *,
    record_kind: str,
    record_id: uuid.UUID,
    station_id: str,
    names: Iterable[str],
    person_id: uuid.UUID | None = None,
    replacing: bool = True,
) -> int:
    """Make the record's indexed names exactly ``names`` (e.g. a case's stated
    names and its full name once known); the number of readings indexed.
    ``replacing=False``: the record has nothing indexed yet, nothing to remove."""
    keep: list[str] = []
    total = 0
    for name in names:
        total += await index_name(
            session,
            record_kind=record_kind,
            record_id=record_id,
            station_id=station_id,
            name=name,
            person_id=person_id,
        )
        if name_keys(name).name:
            keep.append(name_keys(name).name[:100])
    if replacing:
        table = NameEntry.__table__
        await session.execute(
            delete(table).where(
                table.c.record_kind == record_kind,
                table.c.record_id == record_id,
                table.c.name.not_in(keep),
            )
        )
    return total


async def unindex(session: AsyncSession, record_kind: str, record_id: uuid.UUID) -> int:
    """Remove every name of a record; the number of rows removed."""
    table = NameEntry.__table__
    result = await session.execute(
        delete(table).where(table.c.record_kind == record_kind, table.c.record_id == record_id)
    )
    return result.rowcount or 0


#: Rows fetched: by the full key (best first), per near key, and by the given name.
FULL_CAP, NEAR_PER_KEY, NEAR_CAP, GIVEN_CAP = 200, 8, 200, 100
#: Query keys used: loose keys of the query, and near keys generated from them.
MAX_QUERY_KEYS, MAX_NEAR_KEYS = 8, 240

_COLUMNS = "record_kind, record_id, person_id, station_id, name"
# the caller's stations (search.visibility); :everywhere for the center
_SCOPE = "(CAST(:everywhere AS boolean) OR station_id = ANY(:stations))"
_FIND = text(
    f"""
    (SELECT 0 AS branch, {_COLUMNS} FROM name_index
      WHERE loose_key = ANY(:full) AND record_kind = ANY(:kinds) AND {_SCOPE}
      ORDER BY (name = :name) DESC, (reading = ANY(:readings)) DESC
      LIMIT {FULL_CAP})
    UNION ALL
    (SELECT 1, {", ".join("x." + c.strip() for c in _COLUMNS.split(","))}
       FROM unnest(CAST(:near AS varchar[])) AS k(key)
       CROSS JOIN LATERAL (
         SELECT {_COLUMNS} FROM name_index
          WHERE loose_key = k.key AND record_kind = ANY(:kinds) AND {_SCOPE}
          LIMIT {NEAR_PER_KEY}) AS x
      LIMIT {NEAR_CAP})
    UNION ALL
    (SELECT 2, {_COLUMNS} FROM name_index
      WHERE (given_loose_key = ANY(:given) OR loose_key = ANY(:given))
        AND record_kind = ANY(:kinds) AND {_SCOPE}
      LIMIT {GIVEN_CAP})
    """
).bindparams(
    bindparam("full", type_=ARRAY(String)),
    bindparam("near", type_=ARRAY(String)),
    bindparam("given", type_=ARRAY(String)),
    bindparam("kinds", type_=ARRAY(String)),
    bindparam("readings", type_=ARRAY(String)),
    bindparam("stations", type_=ARRAY(String)),
)


def query_keys(keys: NameKeys) -> dict[str, list[str]]:
    """The keys a query looks up: its full loose keys; keys one syllable away;
    the given name's keys (and the whole name's, as a given name alone)."""
    full = list(keys.loose_keys[:MAX_QUERY_KEYS])
    if keys.other_order:
        full += [k for k in name_keys(keys.other_order).loose_keys[:2] if k not in full]
    near: dict[str, None] = {}
    for key in full[:2]:
        syl = key.split(" ")
        for i, s in enumerate(syl):
            for other in near_syllables(s):
                near[" ".join((*syl[:i], other, *syl[i + 1 :]))] = None
    # the mergers one key cannot hold (峰/芬, 黄/王), syllable by syllable
    for reading in keys.readings[:2]:
        syl = reading.split(" ")
        for i, s in enumerate(syl):
            for form in dialect_forms(s)[1:]:
                near[
                    " ".join(
                        (*(loose(x) for x in syl[:i]), form, *(loose(x) for x in syl[i + 1 :]))
                    )
                ] = None
    for key in full:
        near.pop(key, None)
    given: list[str] = []
    if len(keys.units) - keys.surname_len >= 2:
        given.extend(keys.given_loose_keys[:MAX_QUERY_KEYS])
    if len(keys.units) == 2:
        given.extend(full)
    return {
        "full": full,
        "near": list(islice(near, MAX_NEAR_KEYS)),
        "given": list(dict.fromkeys(given)),
    }


async def find_names(
    session: AsyncSession,
    query: str,
    *,
    kinds: Sequence[str] = RECORD_KINDS,
    limit: int = 20,
    min_score: float = CLOSE_FROM,
    stations: Sequence[str] | None = None,
) -> list[NameMatch]:
    """Records whose names sound like ``query`` (characters or typed pinyin), best
    first; only "match" and "close" ones (``min_score``), one per record; only of
    ``stations`` when given (None: every station)."""
    keys = name_keys(query)
    if not keys.name:
        return []
    lookups = query_keys(keys)
    result = await session.execute(
        _FIND,
        {
            **lookups,
            "kinds": list(kinds),
            "name": keys.name,
            "readings": list(keys.readings),
            "everywhere": stations is None,
            "stations": list(stations or ()),
        },
    )
    scores: dict[str, NameSimilarity] = {}
    best: dict[tuple[str, uuid.UUID], tuple[float, int, NameMatch]] = {}
    for branch, kind, record_id, person_id, station_id, name in result.all():
        similarity = scores.get(name)
        if similarity is None:
            similarity = scores[name] = keys_similarity(keys, name_keys(name))
        if similarity.score < min_score:
            continue
        key = (kind, record_id)
        if key in best and best[key][0] >= similarity.score:
            continue
        match = NameMatch(
            record_kind=kind,
            record_id=record_id,
            person_id=person_id,
            station_id=station_id,
            name=name,
            score=similarity.score,
            verdict=similarity.verdict,
            why=similarity.why,
        )
        best[key] = (similarity.score, branch, match)
    ranked = sorted(best.values(), key=lambda t: (-t[0], t[1], t[2].name, str(t[2].record_id)))
    return [m for _, _, m in ranked[:limit]]
