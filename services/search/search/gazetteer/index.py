"""Place-name search over the gazetteer tables (search.gazetteer.build).

A query (characters or typed pinyin) becomes a row of syllable positions, each
with its exact readings and dialect-merged keys. Candidates are the places that
share a key bigram (adjacent syllables), skip-bigram (one between) or, for short
names, a unigram with it, counted per place in numpy; a vectorised pre-score
(features matched, same characters, same first readings, same length, inside
the context, the level a suffix named) keeps a few dozen, which are scored
position by position: same character 1.0, homophone 0.9, dialect merger 0.75,
typo by rapidfuzz on the pinyin. Context (province, county) multiplies: a match
inside it keeps its score, one outside keeps 70–80% of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from search.gazetteer.build import DIGITS, Tables, hash_sequence, short_code
from search.gazetteer.text import LEVELS, core_name, core_syllables, normalize
from search.readings import (
    char_readings,
    dialect_forms,
    is_han,
    is_pinyin,
    loose,
    preferred_reading,
    syllables,
    toneless,
)

if TYPE_CHECKING:
    from search.gazetteer.address import Address

_SCALE = (10**10, 10**8, 10**6, 10**3, 1)
PRESCORE_KEEP = 48  # candidates scored position by position
MAX_FEATURE_KEYS = 64  # key combinations per bigram feature
#: tie-breaker added to a score by level: province, city, county, township, village
PROMINENCE = (0.015, 0.0125, 0.01, 0.0, 0.003)
_PRE_PROMINENCE = np.array([0.3, 0.3, 0.3, 0.02, 0.0], dtype=np.float32)


@dataclass(frozen=True)
class PlaceMatch:
    """One place found: its official code and administrative path, how well and why."""

    code: str
    name: str
    level: str
    path: tuple[str, ...]
    path_codes: tuple[str, ...]
    pinyin: str
    score: float
    current: bool
    now_part_of: PlaceMatch | None = None
    why: tuple[str, ...] = ()
    year: int | None = None  # of the change, for a former name when known
    now_code: str = ""  # the current unit's code: its own, or what it is now part of
    own_code: bool = True  # False: the sources give a former unit no code of its own


@dataclass(frozen=True)
class _Pos:
    """One syllable position of a query."""

    readings: frozenset[str]  # exact toneless readings (typed syllable or the char's)
    keys: tuple[int, ...]  # dialect-merged key ids
    char: str | None = None  # the written character (character queries)
    typed: str | None = None  # the typed token (pinyin queries)
    typo: bool = False  # the readings are corrections of a mistyped token
    loose: frozenset[str] = frozenset()  # dialect-merged forms (with -n/-ng toggled)


@dataclass(frozen=True)
class _Variant:
    positions: tuple[_Pos, ...]
    text: str  # core characters, or typed syllables joined
    levels: tuple[int, ...]  # levels named by a stripped suffix
    han: bool


@dataclass(frozen=True)
class _Context:
    rows: tuple[int, ...]
    level: int
    name: str
    codes: tuple[int, ...]  # 12-digit codes of the context divisions


_LATIN = re.compile(r"[a-zü:]+")


@cache
def place_reading(ch: str) -> str:
    """The reading a character usually has in a place name."""
    found = preferred_reading(ch)
    return found[0] if found else char_readings(ch)[0]


@cache
def _deletions() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for s in syllables():
        out.setdefault(s, set()).add(s)
        for i in range(len(s)):
            out.setdefault(s[:i] + s[i + 1 :], set()).add(s)
    return {k: frozenset(v) for k, v in out.items()}


@cache
def near_syllables(piece: str) -> tuple[str, ...]:
    """Syllables one edit (insert, delete, substitute, swap) from ``piece``."""
    known = syllables()
    dels = _deletions()
    found: set[str] = set(dels.get(piece, ()))
    for i in range(len(piece)):
        d = piece[:i] + piece[i + 1 :]
        if d in known:
            found.add(d)
        for s in dels.get(d, ()):
            if OSA.distance(piece, s) <= 1:
                found.add(s)
    found.discard(piece)
    return tuple(sorted(found))


@cache
def _loose_keys() -> frozenset[str]:
    return frozenset(loose(s) for s in syllables())


@cache
def segment(token: str) -> tuple[tuple[tuple[str, ...], str, str], ...] | None:
    """Cut a typed run into syllables: (readings, typed piece, how) per piece, how
    being "exact", "dialect" (not a syllable, but it folds onto one: "zuang",
    "fai") or "typo" (one edit from syllables; at most two edits in a run).
    Fewest edits first, then fewest pieces, then fewest dialect pieces:
    "xiaohezhaung" → xiao he (zhuang, typo); "zezuang" → ze zuang (dialect)."""
    known = syllables()
    loose_known = _loose_keys()
    n = len(token)
    inf = (99, 99, 99)
    best: list[tuple[int, int, int]] = [inf] * (n + 1)
    back: list[tuple[int, tuple[str, ...], str] | None] = [None] * (n + 1)
    best[0] = (0, 0, 0)
    for end in range(1, n + 1):
        for start in range(max(0, end - 7), end):
            if best[start] == inf:
                continue
            piece = token[start:end]
            edits, dialect = 0, 0
            if piece in known:
                opts, how = (piece,), "exact"
            elif len(piece) >= 2 and loose(piece) in loose_known:
                opts, how, dialect = (piece,), "dialect", 1
            elif len(piece) >= 2:
                opts = near_syllables(piece)
                if not opts:
                    continue
                how, edits = "typo", 1
            else:
                continue
            b = best[start]
            cand = (b[0] + edits, b[1] + 1, b[2] + dialect)
            if cand[0] <= 2 and cand < best[end]:
                best[end] = cand
                back[end] = (start, opts, how)
    if best[n] == inf:
        return None
    out = []
    end = n
    while end > 0:
        start, opts, how = back[end]
        out.append((opts, token[start:end], how))
        end = start
    return tuple(reversed(out))


def dialect_folds(a: str, b: str) -> list[str]:
    """Which mergers make typed ``a`` sound like ``b``: ["zh/z"], ["n/l", "-ng/-n"]."""
    out = []
    for x, y in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if (a.startswith(x) and b.startswith(y) and not b.startswith(x)) or (
            b.startswith(x) and a.startswith(y) and not a.startswith(x)
        ):
            out.append(f"{x}/{y}")
    for x, y in (("n", "l"), ("r", "l"), ("f", "h"), ("h", "w")):
        if {a[:1], b[:1]} == {x, y}:
            out.append(f"{x}/{y}")
    for x, y in (("ng", "n"),):
        if (a.endswith(x) and not b.endswith(x) and b.endswith(y)) or (
            b.endswith(x) and not a.endswith(x) and a.endswith(y)
        ):
            out.append(f"-{x}/-{y}")
    if ("v" in a) != ("v" in b):
        out.append("ü/u")
    return out or ["dialect"]


class Gazetteer:
    """China's divisions, current and former, searchable by characters or pinyin."""

    def __init__(self, tables: Tables):
        self.t = tables
        self.build_seconds = 0.0
        self._parser = None
        t = tables
        self._key_of = t.key_of
        self._nk = t.nk
        # admin names (province, city, county; current and former) → rows, for context
        self._admin: dict[str, list[int]] = {}
        admin_rows = np.nonzero(t.level <= 2)[0]
        for r in admin_rows.tolist():
            for name in {self._core(r), self._name(r)}:
                self._admin.setdefault(name, []).append(r)

    # ---- rows ---------------------------------------------------------------------

    def _core(self, row: int) -> str:
        t = self.t
        return t.core_blob[t.core_off[row] : t.core_off[row + 1]].decode("utf-8")

    def _name(self, row: int) -> str:
        odd = self.t.odd_names.get(row)
        if odd is not None:
            return odd
        return self._core(row) + self.t.suffixes[self.t.suffix[row]]

    def _current_row(self, row: int) -> int:
        """The current row a row stands for: itself, or what a former name became."""
        n0 = self.t.n_current
        return row if row < n0 else int(self.t.dest[row - n0])

    def _path(self, row: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        t = self.t
        former = t.former_paths.get(row)
        if former is not None:
            return former
        names: list[str] = []
        codes: list[str] = []
        while row >= 0:
            names.append(self._name(row))
            codes.append(self._code(row))
            row = int(t.parent[row])
        return tuple(reversed(names)), tuple(reversed(codes))

    def _code(self, row: int) -> str:
        code = int(self.t.code[row])
        return short_code(code, int(self.t.level[row])) if code else ""

    def place(self, row: int, score: float = 1.0, why: tuple[str, ...] = ()) -> PlaceMatch:
        t = self.t
        name = self._name(row)
        path, path_codes = self._path(row)
        current = row < t.n_current
        now = None
        year = None
        code = self._code(row)
        now_code = code
        if not current:
            now = self.place(self._current_row(row))
            year = int(t.former_year[row - t.n_current]) or None
            now_code = now.code
        return PlaceMatch(
            # a former township or village has no code in the sources: the
            # code of the unit it is now part of stands for it
            code=code or now_code,
            name=name,
            level=LEVELS[int(t.level[row])],
            path=path,
            path_codes=path_codes,
            pinyin=" ".join(preferred_reading(name)),
            score=round(float(score), 4),
            current=current,
            now_part_of=now,
            why=why,
            year=year,
            now_code=now_code,
            own_code=bool(code),
        )

    def warm(self) -> None:
        """Fill the reading and typo caches, so the first queries are not slow."""
        segment("xiaohezhaung")
        for query in ("小河庄", "xiao he zhuang", "xiaohezhaung", "zang zhuang cun"):
            self.search(query, province="河北")
        self.address("河南固始縣郭陆滩那边")

    def address(
        self,
        text: str,
        *,
        province: str | None = None,
        county: str | None = None,
        limit: int = 10,
    ) -> Address:
        """A free-form address understood (search.gazetteer.address): its levels,
        the ranked places, how many fit equally well."""
        if self._parser is None:
            from search.gazetteer.address import AddressParser

            self._parser = AddressParser(self)
        return self._parser.understand(text, province=province, county=county, limit=limit)

    def find(self, text: str, limit: int = 10) -> list[PlaceMatch]:
        """The places of a free-form address, best first (``address`` without the parse)."""
        return list(self.address(text, limit=limit).places)

    def __len__(self) -> int:
        return self.t.n

    # ---- lookup ---------------------------------------------------------------------

    def lookup(self, code: str) -> PlaceMatch | None:
        """The current division with this official code (2, 4, 6, 9 or 12 digits)."""
        code = str(code).strip()
        if not code.isdigit() or len(code) not in DIGITS:
            return None
        row = self._row_of_code(int(code.ljust(12, "0")))
        if row < 0:
            return None
        return self.place(row)

    def _row_of_code(self, code12: int) -> int:
        t = self.t
        cur = t.code[: t.n_current]
        i = int(np.searchsorted(cur, code12))
        return i if i < len(cur) and int(cur[i]) == code12 else -1

    # ---- context ----------------------------------------------------------------------

    def _context(self, value: str | None, levels: tuple[int, ...], within: _Context | None):
        if not value:
            return None
        value = normalize(str(value))
        rows: list[int] = []
        if value.isdigit() and len(value) in DIGITS:
            row = self._row_of_code(int(value.ljust(12, "0")))
            rows = [row] if row >= 0 else []
        else:
            n0 = self.t.n_current
            for key in (value, core_name(value)[0]):
                found = [r for r in self._admin.get(key, []) if int(self.t.level[r]) in levels]
                # a current division of that name first; a former one stands for
                # what it became
                rows = [r for r in found if r < n0] or [self._current_row(r) for r in found]
                if rows:
                    break
        if within is not None and rows:
            inside = [r for r in rows if self._inside(r, within)]
            rows = inside or rows
        if not rows:
            return None
        rows = list(dict.fromkeys(rows))
        for level in levels:  # the level asked for first (county before city)
            if any(int(self.t.level[r]) == level for r in rows):
                break
        else:
            level = min(int(self.t.level[r]) for r in rows)
        rows = [r for r in rows if int(self.t.level[r]) == level]
        return _Context(
            rows=tuple(rows),
            level=level,
            name=self._name(rows[0]),
            codes=tuple(int(self.t.code[r]) for r in rows),
        )

    def _province_of(self, ctx: _Context) -> _Context | None:
        row = self._row_of_code(ctx.codes[0] // _SCALE[0] * _SCALE[0])
        if row < 0 or ctx.level == 0:
            return None
        return _Context(rows=(row,), level=0, name=self._name(row), codes=(int(self.t.code[row]),))

    def _inside(self, row: int, ctx: _Context) -> bool:
        scale = _SCALE[ctx.level]
        code = int(self.t.code[row])
        return any(code // scale == c // scale for c in ctx.codes)

    def _inside_vec(self, anchor: np.ndarray, ctx: _Context) -> np.ndarray:
        scale = _SCALE[ctx.level]
        a = anchor // scale
        out = np.zeros(len(anchor), dtype=bool)
        for c in ctx.codes:
            out |= a == c // scale
        return out

    # ---- queries -----------------------------------------------------------------------

    def _han_positions(self, text: str) -> tuple[_Pos, ...]:
        out = []
        for ch in text:
            readings = char_readings(ch)
            forms = [loose(r) for r in readings]
            keys = tuple(dict.fromkeys(self._key_of[k] for k in forms if k in self._key_of))
            out.append(
                _Pos(readings=frozenset(readings), keys=keys, char=ch, loose=frozenset(forms))
            )
        return tuple(out)

    def _pinyin_position(self, options: tuple[str, ...], typed: str, typo: bool) -> _Pos:
        forms = [f for s in (options or (typed,)) for f in dialect_forms(s)]
        keys = tuple(dict.fromkeys(self._key_of[k] for k in forms if k in self._key_of))
        return _Pos(
            readings=frozenset(options), keys=keys, typed=typed, typo=typo, loose=frozenset(forms)
        )

    def _variants(self, query: str) -> list[_Variant]:
        if is_pinyin(query):
            typed: list[tuple[tuple[str, ...], str, bool]] = []
            for token in _LATIN.findall(toneless(query)):
                pieces = segment(token)
                if pieces is None:
                    typed.append(((), token, True))
                    continue
                for opts, piece, how in pieces:
                    typed.append((opts, piece, how == "typo"))
            syls = [piece for _, piece, _ in typed]
            variants = []
            core, levels = core_syllables(syls)
            for cut, lv in ((len(core), levels), (len(syls), ())):
                positions = tuple(
                    self._pinyin_position(opts, piece, typo) for opts, piece, typo in typed[:cut]
                )
                v = _Variant(positions, " ".join(syls[:cut]), lv, han=False)
                if v not in variants:
                    variants.append(v)
            return variants
        text = "".join(ch for ch in normalize(query) if is_han(ch) or ch.isalnum())
        if not text:
            return []
        core, levels = core_name(text)
        return [_Variant(self._han_positions(core), core, levels, han=True)]

    def _split_admin_prefix(self, text: str) -> tuple[str, list[int]]:
        """ "河南省固始县小河庄村" → ("小河庄村", [rows of 河南省, 固始县])."""
        rows: list[int] = []
        for _ in range(3):
            for end in range(min(len(text) - 2, 12), 1, -1):
                head = text[:end]
                hits = self._admin.get(head)
                if hits and head == self._name(hits[0]):
                    rows.append(self._current_row(hits[0]))
                    text = text[end:]
                    break
            else:
                break
        return text, rows

    def _features(self, v: _Variant) -> list[np.ndarray]:
        t, nk = self.t, self._nk
        nk2 = nk * nk
        pos = v.positions
        feats: list[tuple[float, list[int]]] = []
        if len(pos) == 1:
            feats.append((1.0, [2 * nk2 + a for a in pos[0].keys]))
        for gap, base, weight in ((1, 0, 1.0), (2, nk2, 0.5)):
            for i in range(len(pos) - gap):
                keys = [base + a * nk + b for a in pos[i].keys for b in pos[i + gap].keys]
                feats.append((weight, keys[:MAX_FEATURE_KEYS]))
        out = []
        for weight, keys in feats:
            parts = [t.post_ids[t.post_off[k] : t.post_off[k + 1]] for k in keys]
            parts = [p for p in parts if len(p)]
            if not parts:
                continue
            arr = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))
            out.append((weight, arr))
        return out

    def _candidates(self, v: _Variant) -> tuple[np.ndarray, np.ndarray]:
        feats = self._features(v)
        if not feats:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        n = len(v.positions)
        total = 1.0 if n == 1 else (n - 1) + 0.5 * max(0, n - 2)
        if len(feats) == 1:
            return feats[0][1], np.full(len(feats[0][1]), feats[0][0] / total, np.float32)
        ids = np.concatenate([a for _, a in feats])
        w = np.concatenate([np.full(len(a), wt, np.float32) for wt, a in feats])
        order = np.argsort(ids, kind="stable")
        ids, w = ids[order], w[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        return ids[starts], np.add.reduceat(w, starts) / total

    def search(
        self,
        query: str,
        *,
        province: str | None = None,
        county: str | None = None,
        limit: int = 10,
    ) -> list[PlaceMatch]:
        """Places matching ``query`` (characters or pinyin), best first."""
        if limit <= 0:
            return []
        found = self.ranked(query, province=province, county=county)[:limit]
        return [self.place(row, score, why) for row, score, why in found]

    def ranked(
        self, query: str, *, province: str | None = None, county: str | None = None
    ) -> list[tuple[int, float, tuple[str, ...]]]:
        """Every candidate scored, best first, as (row, score, why): ``search``
        without building the answers (the address parser merges several)."""
        t = self.t
        query = (query or "").strip()
        if not query:
            return []
        prov_ctx = self._context(province, (0, 1), None)
        county_ctx = self._context(county, (2, 1), prov_ctx)
        variants = self._variants(query)
        extra_ctx: _Context | None = None
        if variants and variants[0].han and county_ctx is None:
            rest, rows = self._split_admin_prefix(normalize(query))
            if rows:
                deepest = max(rows, key=lambda r: int(t.level[r]))
                extra_ctx = _Context(
                    rows=(deepest,),
                    level=int(t.level[deepest]),
                    name=self._name(deepest),
                    codes=(int(t.code[deepest]),),
                )
                variants += self._variants(rest)
        ctx = county_ctx or extra_ctx or prov_ctx
        outer = None
        if county_ctx or extra_ctx:
            outer = prov_ctx or self._province_of(ctx)

        pooled: dict[int, tuple[float, tuple[str, ...]]] = {}
        for v in variants:
            if not v.positions:
                continue
            rows, feat = self._candidates(v)
            if len(rows) == 0 and not v.han:
                v = self._widened(v)
                rows, feat = self._candidates(v)
            if len(rows) == 0:
                continue
            keep = self._prescore(v, rows, feat, ctx, outer)
            for row in keep.tolist():
                score, why = self._score(v, row, ctx, outer)
                if score > pooled.get(row, (-1.0,))[0]:
                    pooled[row] = (score, why)
        best = sorted(pooled.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [(row, score, why) for row, (score, why) in best]

    def ranked_inside(self, query: str, code: str) -> list[tuple[int, float, tuple[str, ...]]]:
        """Every current division inside a small one (a township, by its code)
        scored against ``query``, best first: a few dozen rows, no index needed."""
        ctx = self._context(code, (3, 2), None)
        if ctx is None or not (query or "").strip():
            return []
        t = self.t
        scale = _SCALE[ctx.level]
        cur = t.code[: t.n_current]
        lo = ctx.rows[0] + 1
        hi = int(np.searchsorted(cur, ctx.codes[0] // scale * scale + scale))
        pooled: dict[int, tuple[float, tuple[str, ...]]] = {}
        for v in self._variants(query):
            if not v.positions:
                continue
            for row in range(lo, hi):
                score, why = self._score(v, row, ctx, None)
                if score > pooled.get(row, (-1.0,))[0]:
                    pooled[row] = (score, why)
        best = sorted(pooled.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [(row, score, why) for row, (score, why) in best]

    def _widened(self, v: _Variant) -> _Variant:
        """Every position also by the syllables one edit away (a typed typo that is
        itself a syllable: "xiao ha zhuang")."""
        positions = []
        for p in v.positions:
            opts = tuple(p.readings) + tuple(
                s for r in p.readings for s in near_syllables(r)[:12] if s not in p.readings
            )
            positions.append(self._pinyin_position(opts, p.typed or "", True))
        return _Variant(tuple(positions), v.text, v.levels, v.han)

    def _anchor(self, rows: np.ndarray) -> np.ndarray:
        t = self.t
        anchor_rows = rows.astype(np.int64)
        former = rows >= t.n_current
        if former.any():
            anchor_rows[former] = t.dest[rows[former] - t.n_current]
        return t.code[anchor_rows]

    def _prescore(self, v, rows, feat, ctx, outer) -> np.ndarray:
        t = self.t
        n = len(v.positions)
        pre = feat.astype(np.float32)
        if v.han:
            qhash = hash_sequence([ord(p.char) for p in v.positions])
            pre = pre + 0.6 * (t.char_hash[rows] == np.uint64(qhash))
        rid = t.reading_id
        if v.han:
            first = [rid.get(place_reading(p.char), -1) for p in v.positions]
        else:
            first = [rid.get(p.typed or "", -1) for p in v.positions]
        if min(first) > 0:
            pre = pre + 0.3 * (t.read_hash[rows] == np.uint64(hash_sequence(first)))
        pre = pre + 0.2 * (t.core_len[rows] == n)
        if v.levels:
            lv = t.level[rows]
            hit = np.zeros(len(rows), dtype=bool)
            for level in v.levels:
                hit |= lv == level
            pre = pre + 0.3 * hit
        # provinces, cities and counties are few: never pruned for villages
        pre = pre + _PRE_PROMINENCE[t.level[rows]]
        if ctx is not None:
            anchor = self._anchor(rows)
            pre = pre + 1.5 * self._inside_vec(anchor, ctx)
            if outer is not None:
                pre = pre + 0.5 * self._inside_vec(anchor, outer)
        if len(rows) <= PRESCORE_KEEP:
            return rows
        top = np.argpartition(-pre, PRESCORE_KEEP)[:PRESCORE_KEEP]
        return rows[top]

    def _score(self, v: _Variant, row: int, ctx, outer) -> tuple[float, tuple[str, ...]]:
        t = self.t
        core = self._core(row)
        why: list[str] = []
        n = len(v.positions)
        if len(core) == n:
            total = 0.0
            same = 0
            for p, ch in zip(v.positions, core, strict=True):
                readings = char_readings(ch)
                if p.char is not None and p.char == ch:
                    total += 1.0
                    same += 1
                    continue
                shared = [r for r in readings if r in p.readings]
                if shared:
                    if p.char is not None:
                        total += 0.9
                        why.append(f"homophone of {ch} ({shared[0]})")
                    elif p.typo:
                        total += 0.8
                        why.append(f"typo in pinyin: {shared[0]}")
                    else:
                        total += 1.0 if place_reading(ch) in p.readings else 0.95
                    continue
                hit = next((r for r in readings if loose(r) in p.loose), None)
                if hit is not None:
                    total += 0.75
                    said = p.typed or next(
                        (r for r in sorted(p.readings) if set(dialect_forms(r)) & {loose(hit)}),
                        hit,
                    )
                    if p.char is not None:
                        said = next(
                            (r for r in p.readings if loose(r) == loose(hit)), sorted(p.readings)[0]
                        )
                    folds = dialect_folds(said, hit)
                    why.append(f"dialect: {', '.join(folds)} ({said} ~ {hit} {ch})")
                    continue
                typed = p.typed or (sorted(p.readings)[0] if p.readings else "")
                ratio = max((fuzz.ratio(typed, r) for r in readings), default=0.0) / 100
                total += 0.6 * ratio
                why.append(
                    f"typo in pinyin: {typed} ~ {readings[0]} {ch}"
                    if not p.char
                    else f"{p.char} ≠ {ch}"
                )
            q = total / n
            if v.han and same == n:
                why.insert(0, "same characters")
            elif not v.han and not why:
                why.insert(0, "same pinyin")
        else:
            if v.han and n < len(core) and v.text in core:
                q = 0.75 + 0.2 * n / len(core)  # a shortened name: 小河 for 小河桥
                why.append(f"part of the name ({v.text})")
            elif v.han:
                q = 0.85 * fuzz.ratio(v.text, core) / 100
                why.append("similar characters")
            elif n < len(core) and all(
                p.loose & {loose(r) for r in char_readings(ch)}
                for p, ch in zip(v.positions, core, strict=False)
            ):
                q = 0.7 + 0.2 * n / len(core)
                why.append(f"start of the name ({v.text})")
            else:
                mine = "".join(place_reading(ch) for ch in core)
                q = 0.8 * fuzz.ratio(v.text.replace(" ", ""), mine) / 100
                why.append("similar pinyin")
        level = int(t.level[row])
        if v.levels:
            q += 0.04 if level in v.levels else -0.03
        former = row >= t.n_current
        if former:
            why.append("former name")
        # at equal reading distance the more prominent place first: a province,
        # city or county (more often meant), then a village before a township
        # (a village often names the township it lies in)
        q = 0.985 * min(max(q, 0.0), 1.0) + PROMINENCE[level]
        if former:  # after the clip: a current name said as well comes first
            q -= 0.02
        if ctx is not None:
            cur_row = self._current_row(row)
            if self._inside(cur_row, ctx):
                why.append(f"inside {ctx.name}")
            elif outer is not None and self._inside(cur_row, outer):
                q *= 0.75
                why.append(f"inside {outer.name}, not {ctx.name}")
            else:
                q *= 0.6 if ctx.level >= 2 else 0.7
                why.append(f"outside {ctx.name}")
        return q, tuple(why)
