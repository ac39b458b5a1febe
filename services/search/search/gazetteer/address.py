"""Addresses as people say them: several levels at once, short forms, pinyin, speech.

"河南固始", "老家是信阳的", "四川达州那边", "hubei xiangyang", "河南固始郭陆滩小河庄":
the text is cleaned (traditional and variant characters folded to simplified,
spoken fillers dropped), cut into syllable positions (characters and typed
pinyin alike), and parsed left to right into levels — province, city, county,
township — each written in full, short or by ear (homophones and dialect
mergers through search.readings), each inside the one before it. What is left
after the last level is searched as a name inside it (a village, usually). The
parses and the plain search of the whole text compete on one score; the answer
says how many places fit equally well (the ambiguity).

    from search.gazetteer import load_gazetteer
    gaz = load_gazetteer()
    answer = gaz.address("河南固始郭陆滩小河庄")
    answer.levels, answer.places[0], answer.ambiguity
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from search.gazetteer.build import short_code
from search.gazetteer.index import PROMINENCE, place_reading, segment
from search.gazetteer.text import LEVELS
from search.readings import (
    char_readings,
    dialect_forms,
    is_han,
    loose,
    preferred_reading,
    split_pinyin,
    syllables,
    toneless,
)

if TYPE_CHECKING:
    from search.gazetteer.index import Gazetteer, PlaceMatch

_SCALE = (10**10, 10**8, 10**6, 10**3, 1)

# spoken words around a place, stripped while something is left (longest first)
_LEADING = sorted(
    "老家是 老家在 老家 我家是 我家在 家是 家在 住在 我是 我在 来自 他是 她是 在 是".split(),
    key=len,
    reverse=True,
)
_TRAILING = sorted(
    "那边 那块 那里 那儿 那一块 那一带 这边 这块 这里 一带 附近 村里 乡里 镇上 乡下 "
    "村子里 人 的人 的".split(),
    key=len,
    reverse=True,
)
_PINYIN_LEADING = (("lao", "jia", "shi"), ("lao", "jia", "zai"), ("lao", "jia"), ("wo", "shi"))
_PINYIN_TRAILING = (("na", "bian"), ("na", "kuai"), ("na", "li"), ("cun", "li"), ("de",))

# suffixes a level may be written with, after its short form
# (besides the division's own: 市 of 北京市 and of a county-level city)
_LEVEL_SUFFIXES: dict[int, tuple[str, ...]] = {
    0: ("省",),
    1: ("地区", "市", "州", "盟"),
    2: ("县", "区", "旗"),
    3: ("街道办事处", "街道", "镇", "乡", "苏木"),
}
_PINYIN_LEVEL_SUFFIXES: dict[int, tuple[tuple[str, ...], ...]] = {
    0: (("sheng",),),
    1: (("di", "qu"), ("shi",), ("zhou",), ("meng",)),
    2: (("xian",), ("qu",), ("qi",)),
    3: (("jie", "dao"), ("zhen",), ("xiang",), ("su", "mu")),
}
_TOKENS = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ebef]|[a-z]+")

#: how many places a parse may branch into at one level (same-named counties)
BRANCH = 12
#: parses whose leftover is searched as a name inside them
SEARCHED_PARSES = 2
#: a name found inside a parse this well ends the search
INSIDE_ENOUGH = 0.85
#: places within this score of the first (less the level's tie-breaker) fit
#: "equally"
TIE = 0.0005


@dataclass(frozen=True)
class Level:
    """One level of the parse: the division matched and how."""

    level: str  # province | city | county | township
    code: str
    name: str  # the division's official name (the current one a former name became)
    said: str  # the part of the text it was matched on
    how: str  # same characters | short form | homophone | dialect | pinyin
    score: float

    def as_json(self) -> dict:
        return {
            "level": self.level,
            "code": self.code,
            "name": self.name,
            "said": self.said,
            "how": self.how,
            "score": round(self.score, 3),
        }


@dataclass(frozen=True)
class Address:
    """A free-form address understood: its levels, the ranked places and how many
    of them fit equally well as the first."""

    said: str
    cleaned: str
    levels: tuple[Level, ...]
    rest: str  # what was searched as a name inside the last level
    places: tuple[PlaceMatch, ...]
    # places fitting as well as the first, prominence aside (0: nothing found; at
    # most the few dozen candidates ranked)
    ambiguity: int


@dataclass(frozen=True)
class _Said:
    """One syllable position of what was said: a character or a typed syllable."""

    text: str
    char: str | None
    readings: frozenset[str]
    loose: frozenset[str]
    token: str = ""  # the typed run it starts (empty inside a run)


# ---- cleaning ------------------------------------------------------------------------


@cache
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str, written: Callable[[str], bool] = lambda ch: False) -> str:
    """Traditional and variant characters to simplified ("固始縣" → "固始县"); a
    character some division is ``written`` with (乾县, not 干县) is kept."""
    out = []
    for ch in text:
        if is_han(ch):
            folded = _fold_char(ch)
            if folded != ch and not written(ch):
                ch = folded
        out.append(ch)
    return "".join(out)


@cache
def _fold_char(ch: str) -> str:
    folded = _converter().convert(ch)
    return folded if len(folded) == 1 else ch


def strip_fillers(text: str) -> str:
    """The place without the spoken words around it: "老家是信阳的" → "信阳"."""
    for _ in range(4):
        before = text
        for word in _LEADING:
            if text.startswith(word) and len(text) - len(word) >= 2:
                text = text[len(word) :]
                break
        for word in _TRAILING:
            if text.endswith(word) and len(text) - len(word) >= 2:
                text = text[: -len(word)]
                break
        if text == before:
            return text
    return text


def _strip_pinyin_fillers(said: list[_Said]) -> list[_Said]:
    led = False
    for _ in range(3):
        before = len(said)
        typed = tuple(p.text if p.char is None else "" for p in said)
        for words in _PINYIN_LEADING:
            if typed[: len(words)] == words and len(said) - len(words) >= 2:
                said = said[len(words) :]
                led = True
                break
        typed = tuple(p.text if p.char is None else "" for p in said)
        for words in _PINYIN_TRAILING:
            # "de" closes "lao jia shi … de" only: 旌德 is jing de
            if words == ("de",) and not led:
                continue
            if typed[-len(words) :] == words and len(said) - len(words) >= 2:
                said = said[: -len(words)]
                break
        if len(said) == before:
            break
    return said


# ---- positions -----------------------------------------------------------------------


@cache
def _char_position(ch: str) -> _Said:
    readings = char_readings(ch)
    return _Said(ch, ch, frozenset(readings), frozenset(loose(r) for r in readings))


def _positions(text: str) -> list[_Said]:
    out: list[_Said] = []
    for token in _TOKENS.findall(toneless_keep_han(text)):
        if is_han(token[0]):
            out.append(_char_position(token))
            continue
        # exact syllables first ("fuan" is fu an, not a dialect "huan"), else the
        # gazetteer's cut with dialect and typo pieces
        exact = _exact_syllables(token)
        pieces = tuple(((p,), p, "exact") for p in exact) if exact else segment(token)
        if pieces is None:
            out.append(_Said(token, None, frozenset(), frozenset(dialect_forms(token)), token))
            continue
        for n, (opts, piece, how) in enumerate(pieces):
            readings = frozenset(opts) if how != "dialect" else frozenset()
            forms = {f for s in (opts or (piece,)) for f in dialect_forms(s)}
            out.append(_Said(piece, None, readings, frozenset(forms), token if n == 0 else ""))
    return out


def _exact_syllables(token: str) -> tuple[str, ...] | None:
    pieces = split_pinyin(token)
    return tuple(pieces) if all(p in syllables() for p in pieces) else None


def toneless_keep_han(text: str) -> str:
    """Lower-case, tone marks off the Latin letters, characters kept."""
    return "".join(ch if is_han(ch) else toneless(ch) for ch in text)


def _text_of(said: list[_Said]) -> str:
    """The text of some positions: characters run together, typed runs as typed
    when whole (the gazetteer cuts them again, dialect pieces included)."""
    if all(p.char is not None for p in said):
        return "".join(p.text for p in said)
    out: list[str] = []
    i = 0
    while i < len(said):
        p = said[i]
        if p.token and p.char is None:
            j = i + 1
            while j < len(said) and not said[j].token and said[j].char is None:
                j += 1
            if "".join(q.text for q in said[i:j]) == p.token:
                out.append(p.token)
                i = j
                continue
        out.append(p.text)
        i += 1
    return " ".join(out)


# ---- the parser ----------------------------------------------------------------------


class AddressParser:
    """Parses free-form addresses over one gazetteer (its admin names indexed by
    the dialect-merged keys of their first two syllables)."""

    def __init__(self, gaz: Gazetteer):
        self.gaz = gaz
        t = gaz.t
        rows = np.nonzero(t.level <= 3)[0]
        self._heads: dict[tuple[str, str], list[int]] = {}
        cores: dict[int, str] = {}
        for row in rows.tolist():
            core = gaz._core(row)
            if len(core) < 2:
                continue
            cores[row] = core
            for a in _keys(core[0]):
                for b in _keys(core[1]):
                    self._heads.setdefault((a, b), []).append(row)
        self._cores = cores
        anchor = t.code[[gaz._current_row(row) for row in cores]].tolist()
        self._anchor = dict(zip(cores, anchor, strict=True))
        self._written: dict[str, bool] = {}

    def written(self, ch: str) -> bool:
        """Whether some division's name has this character (looked up once: UTF-8
        never matches inside another character)."""
        found = self._written.get(ch)
        if found is None:
            found = self._written[ch] = ch.encode("utf-8") in self.gaz.t.core_blob
        return found

    # ---- matching one level --------------------------------------------------------

    def _fit(
        self, core: str, said: list[_Said], i: int, prominent: bool = False
    ) -> tuple[float, str] | None:
        """How well the text at ``i`` reads as ``core``, per syllable: 1 the same
        (typed: its place reading), 0.95 another reading, 0.9 a homophone, 0.75 a
        dialect merger. ``prominent`` (a province, city or county): a merger of its
        place reading counts as a homophone (typed: 0.985), since one of a few
        thousand such names is far likelier meant than a village's."""
        if i + len(core) > len(said):
            return None
        total = 0.0
        hows: set[str] = set()
        for ch, p in zip(core, said[i : i + len(core)], strict=False):
            if p.char == ch:
                total += 1.0
                continue
            readings = char_readings(ch)
            first = place_reading(ch)
            if p.char is None and first in p.readings:
                total += 1.0
                hows.add("pinyin")
                continue
            if p.char is not None and p.readings.intersection(readings):
                total += 0.9
                hows.add("homophone")
                continue
            if prominent and loose(first) in p.loose:
                total += 0.9 if p.char is not None else 0.985
                hows.add("dialect")
                continue
            if p.readings.intersection(readings):
                total += 0.95
                hows.add("pinyin")
                continue
            if p.loose.intersection(loose(r) for r in readings):
                total += 0.75
                hows.add("dialect")
                continue
            return None
        how = (
            "dialect"
            if "dialect" in hows
            else "homophone"
            if "homophone" in hows
            else "pinyin"
            if hows
            else "same characters"
        )
        return total / len(core), how

    def _inside(self, row: int, ctx: int | None) -> bool:
        if ctx is None:
            return True
        level = int(self.gaz.t.level[ctx])
        scale = _SCALE[level]
        return self._anchor.get(row, 0) // scale == int(self.gaz.t.code[ctx]) // scale

    def _levels_at(self, said: list[_Said], i: int, ctx: int | None, after: int):
        """(row, length, quality, how) of the divisions below ``after`` that the
        text at ``i`` names, inside ``ctx``."""
        if i + 2 > len(said):
            return []
        t = self.gaz.t
        found: dict[int, tuple[int, int, float, str]] = {}
        for a in said[i].loose:
            for b in said[i + 1].loose:
                for row in self._heads.get((a, b), ()):
                    level = int(t.level[row])
                    if level <= after or (level == 3 and ctx is None):
                        continue
                    if not self._inside(row, ctx):
                        continue
                    core = self._cores[row]
                    fit = self._fit(core, said, i, prominent=level <= 2)
                    if fit is None:
                        continue
                    cur = self.gaz._current_row(row)
                    q = fit[0] - (0.02 if row >= t.n_current else 0.0)
                    if cur in found and found[cur][2] >= q:
                        continue
                    found[cur] = (row, len(core), q, fit[1])
        best = sorted(found.values(), key=lambda f: (-f[2], int(t.level[f[0]]), f[0]))
        return best[:BRANCH]

    def _suffix_after(self, said: list[_Said], j: int, row: int) -> int:
        """Past the level's written suffix ("县", "xian"), if one follows."""
        gaz = self.gaz
        level = int(gaz.t.level[row])
        if j < len(said) and said[j].char is not None:
            rest = "".join(p.char or " " for p in said[j : j + 8])
            name = gaz._name(row)
            core = self._cores[row]
            tails = []
            if name.startswith(core) and len(name) > len(core):
                tails.append(name[len(core) :])
            tails.extend(_LEVEL_SUFFIXES.get(level, ()))
            for tail in tails:
                if rest.startswith(tail) and len(said) - j - len(tail) != 1:
                    return j + len(tail)
            return j
        typed = tuple(p.text for p in said[j : j + 5])
        name, core = gaz._name(row), self._cores[row]
        own = preferred_reading(name[len(core) :]) if name.startswith(core) else ()
        for words in (own, *_PINYIN_LEVEL_SUFFIXES.get(level, ())):
            if not words:
                continue
            if typed[: len(words)] == words and len(said) - j - len(words) != 1:
                return j + len(words)
        return j

    def parses(self, said: list[_Said], ctx: int | None = None):
        """Every parse: (levels as (row, start, end, quality, how), where the rest starts)."""
        t = self.gaz.t
        out: list[tuple[tuple[tuple[int, int, int, float, str], ...], int]] = []
        start_level = -1 if ctx is None else int(t.level[ctx])

        def walk(i, ctx, after, levels):
            out.append((levels, i))
            if len(out) > 200:
                return
            for row, length, q, how in self._levels_at(said, i, ctx, after):
                j = i + length
                if len(said) - j == 1 and said[j].char is None:
                    continue  # one typed syllable left: a suffix misread, not a name
                k = self._suffix_after(said, j, row)
                level = int(t.level[row])
                cur = self.gaz._current_row(row)
                walk(k, cur, level, (*levels, (row, i, k, q, how)))

        walk(0, ctx, start_level, ())
        return out

    # ---- the answer -----------------------------------------------------------------

    def understand(
        self,
        text: str,
        *,
        province: str | None = None,
        county: str | None = None,
        limit: int = 10,
    ) -> Address:
        gaz = self.gaz
        t = gaz.t
        said_text = text
        text = unicodedata.normalize("NFKC", text or "").strip()
        text = fold(text, self.written)
        han = "".join(ch for ch in text if is_han(ch) or ch.isascii() and ch.isalnum())
        cleaned = strip_fillers(han) if han and all(is_han(c) for c in han) else text
        said = _strip_pinyin_fillers(_positions(cleaned))
        cleaned = _text_of(said) if said else cleaned
        if not said:
            return Address(said_text, cleaned, (), "", (), 0)

        ctx = None
        if county or province:
            c = gaz._context(county, (2, 1), gaz._context(province, (0, 1), None))
            c = c or gaz._context(province, (0, 1), None)
            ctx = c.rows[0] if c else None

        pool: dict[int, tuple[float, tuple[str, ...], int]] = {}  # row → score, why, parse

        def offer(row, score, why, parse):
            if score > pool.get(row, (-1.0,))[0]:
                pool[row] = (score, why, parse)

        parses = self.parses(said, ctx)
        n = len(said)

        def covered(p):
            levels, rest = p
            q = sum(lv[3] * (lv[2] - lv[1]) for lv in levels)
            return (q / n, len(levels))

        parses.sort(key=lambda p: covered(p), reverse=True)

        def quality_of(levels):
            return sum(lv[3] * (lv[2] - lv[1]) for lv in levels) / sum(
                lv[2] - lv[1] for lv in levels
            )

        # a parse that explains the whole text well settles what is searched:
        # a province, city or county named in full after another level needs no
        # name search inside; a township may be a village's namesake (one search);
        # the plain search of the whole text only when no parse explains it
        whole = [lv for lv, rest in parses if lv and rest >= n and quality_of(lv) >= 0.95]
        searches = SEARCHED_PARSES
        if any(len(lv) >= 2 and int(t.level[lv[-1][0]]) <= 2 for lv in whole):
            searches = 0
        elif whole:
            searches = 1
        searched = 0
        for index, (levels, rest) in enumerate(parses):
            if not levels:
                continue
            quality = quality_of(levels)
            last = gaz._current_row(levels[-1][0])
            level = int(t.level[last])
            why = tuple(f"{LEVELS[int(t.level[lv[0]])]}: {lv[4]}" for lv in levels)
            if rest >= n:
                offer(levels[-1][0], 0.985 * quality + PROMINENCE[level], why, index)
                continue
            leftover = said[rest:]
            if len(leftover) < 2 or searched >= searches:
                continue
            searched += 1
            # the unit itself stays a candidate, below what is found inside it
            offer(levels[-1][0], 0.7 * (0.985 * quality + PROMINENCE[level]), why, index)
            code = short_code(int(t.code[last]), level)
            rest_text = _text_of(leftover)
            found = gaz.ranked_inside(rest_text, code) if level == 3 else []
            if not found or found[0][1] < INSIDE_ENOUGH:
                # not inside the township as said: the whole county (or province)
                found = gaz.ranked(
                    rest_text, **({"province": code} if level == 0 else {"county": code})
                )
            factor = 1.0 - 0.5 * (1.0 - quality)
            for row, score, w in found[:50]:
                offer(row, score * factor, w, index)
            if found and found[0][1] * factor >= INSIDE_ENOUGH:
                break  # a parse that finds its name well is not second-guessed
        if max((len(lv) for lv, _ in parses), default=0) <= 1:
            # one name at most: the plain search of the whole text (villages too)
            for row, score, why in gaz.ranked(cleaned, province=province, county=county)[:50]:
                offer(row, score, why, -1)

        ranked = sorted(pool.items(), key=lambda kv: (-kv[1][0], kv[0]))
        if not ranked:
            return Address(said_text, cleaned, (), cleaned, (), 0)

        # fitting equally: the same score but for the level's tie-breaker (朝阳 is
        # a city, three districts and counties, and villages; 朝阳市 comes first)
        def fit(row: int, score: float) -> float:
            return score - PROMINENCE[int(t.level[row])]

        top = fit(ranked[0][0], ranked[0][1][0])
        tied: list[str] = []  # codes of the places fitting equally
        for row, (score, _, _) in ranked:
            if fit(row, score) < top - TIE:
                continue
            code = str(int(t.code[gaz._current_row(row)])).rstrip("0")
            # a place and one inside it (容城县, its seat 容城镇) are one answer
            if not any(code.startswith(c) or c.startswith(code) for c in tied):
                tied.append(code)
        ambiguity = len(tied)
        chosen = ranked[0][1][2]
        levels_out: tuple[Level, ...] = ()
        rest_text = cleaned
        if chosen >= 0:
            levels, rest = parses[chosen]
            levels_out = tuple(self._level(said, lv) for lv in levels)
            rest_text = _text_of(said[rest:]) if rest < n else ""
        places = tuple(gaz.place(row, score, why) for row, (score, why, _) in ranked[:limit])
        return Address(said_text, cleaned, levels_out, rest_text, places, ambiguity)

    def _level(self, said: list[_Said], lv) -> Level:
        row, start, end, q, how = lv
        gaz = self.gaz
        cur = gaz._current_row(row)
        name = gaz._name(row)
        words = _text_of(said[start:end])
        if how == "same characters" and words != name:
            how = "short form"
        return Level(
            level=LEVELS[int(gaz.t.level[row])],
            code=gaz._code(cur),
            name=gaz._name(cur) if cur != row else name,
            said=words,
            how=how,
            score=q,
        )


@cache
def _keys(ch: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(loose(r) for r in char_readings(ch)))
