"""Administrative division codes: which exist, now or before, and what a former
code became.

    from rescue_divisions import division_codes, load_division_codes
    codes = load_division_codes()      # var/gazetteer, or $GAZETTEER_DIR
    codes.resolve("411502")            # '411502': a current code
    codes.resolve("512201")            # a former code: the current one it became
    codes.resolve("519999")            # None: no such division, ever
    codes.province_of("411525")        # '河南省'
    codes.home_problem("510000")       # why it is no home (a province), or None

GB/T 2260 gives provinces, cities and counties 6 digits (510000 四川省, 510100
成都市, 510104 锦江区); the statistics bureau's division codes extend a county's
code to 9 digits for a town (乡镇街道) and 12 for a village (村居委会).

The data: china-division's current divisions down to the villages (2023-06-30),
quhua's change events (1980-2026: former province, city and county codes and
what they became, counties set up after 2023), both pinned by
``rescue_divisions.fetch``. About 665,000 codes in sorted arrays of 2 to 4
bytes a code (under 2 MB), never one Python object per code. The arrays are
cached in one binary file next to the sources, so that a service loads them in
milliseconds; building them from the sources takes a few seconds.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import unicodedata
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from rescue_divisions import fetch as sources

log = logging.getLogger(__name__)

CACHE_FILE = "division-codes.bin"
_FORMAT = 1  # raise it when what is built changes: caches of another format are rebuilt
# GB/T 2260 lists these province-level units; the statistics bureau's divisions
# (china-division) do not, nor anything below them.
_BEYOND_MAINLAND = {71: "台湾省", 81: "香港特别行政区", 82: "澳门特别行政区"}
# china-division's snapshot: quhua events after it add divisions set up since.
_SNAPSHOT_YEAR = 2023
# quhua: a code given to another unit is no change of this unit.
_NOT_A_CHANGE = "码位改派"
# Provinces whose divisions moved to a new one since 1980: Hainan (1988) out of
# Guangdong, Chongqing (1997) out of Sichuan. quhua's early years hold code
# noise across other provinces (its own note); such a step is not followed.
_PROVINCE_MOVES = {(44, 46), (51, 50)}
_ARRAYS = (
    ("counties", "i"),
    ("towns", "i"),
    ("village_offsets", "i"),
    ("village_suffixes", "H"),
    ("former", "i"),
    ("former_to", "i"),
    ("former_level", "b"),
)


class Level(IntEnum):
    PROVINCE = 0
    CITY = 1
    COUNTY = 2
    TOWN = 3
    VILLAGE = 4


LEVEL_NAMES = ("a province", "a city", "a county", "a town", "a village")


@dataclass(frozen=True)
class Division:
    """What a code names: its level, and the current code (itself, or what the
    former division became)."""

    code: str
    level: Level
    current: str

    @property
    def former(self) -> bool:
        return self.current != self.code


class DivisionCodes:
    """The codes (see the module docstring). Lookups take a code as digits
    (normalise typed input first: ``rescue_divisions.fields.normalise_code``)."""

    def __init__(
        self,
        provinces: dict[int, str],
        cities: dict[int, str],
        arrays: dict[str, array],
    ) -> None:
        self._provinces = {**provinces, **_BEYOND_MAINLAND}
        self._cities = cities
        self._counties = arrays["counties"]  # 6 digits, sorted
        self._towns = arrays["towns"]  # 9 digits, sorted
        # villages per town (CSR): the last 3 digits of the villages of towns[i]
        # are village_suffixes[village_offsets[i]:village_offsets[i + 1]], sorted
        self._village_offsets = arrays["village_offsets"]
        self._village_suffixes = arrays["village_suffixes"]
        self._former = arrays["former"]  # 6 digits, sorted
        self._former_to = arrays["former_to"]  # the current 6-digit code it became
        self._former_level = arrays["former_level"]
        self._short_names = {
            code: _short_province_name(name) for code, name in self._provinces.items()
        }

    # ---- lookups ---------------------------------------------------------------

    def find(self, code: str) -> Division | None:
        """The division a 6-, 9- or 12-digit code names, current or former."""
        if not (code.isascii() and code.isdigit()) or len(code) not in (6, 9, 12):
            return None
        value = int(code)
        if len(code) == 12:
            return Division(code, Level.VILLAGE, code) if self._has_village(value) else None
        if len(code) == 9:
            return Division(code, Level.TOWN, code) if _has(self._towns, value) else None
        if _has(self._counties, value):
            return Division(code, Level.COUNTY, code)
        if value % 100 == 0 and value // 100 in self._cities:
            return Division(code, Level.CITY, code)
        if value % 10_000 == 0 and value // 10_000 in self._provinces:
            return Division(code, Level.PROVINCE, code)
        i = bisect_left(self._former, value)
        if i < len(self._former) and self._former[i] == value:
            current = f"{self._former_to[i]:06d}"
            return Division(code, Level(self._former_level[i]), current)
        return None

    def resolve(self, code: str) -> str | None:
        """The current code: ``code`` itself if current, what a former code became,
        None if no division ever had it."""
        found = self.find(code)
        return found.current if found else None

    def is_current(self, code: str) -> bool:
        found = self.find(code)
        return found is not None and not found.former

    def province_of(self, code: str) -> str | None:
        """The name of the province the division is in now (None: no such code)."""
        current = self.resolve(code)
        return self._provinces.get(int(current[:2])) if current else None

    def name_of(self, code: str) -> str | None:
        """The name of a province or city by its code (2/4 digits, or 6 ending in
        0000/00); counties and below are not named here."""
        if not (code.isascii() and code.isdigit()):
            return None
        value = int(code)
        if len(code) == 2 or (len(code) == 6 and value % 10_000 == 0):
            return self._provinces.get(int(code[:2]))
        if len(code) == 4 or (len(code) == 6 and value % 100 == 0):
            return self._cities.get(int(code[:4]))
        return None

    def __len__(self) -> int:
        return (
            len(self._provinces)
            + len(self._cities)
            + len(self._counties)
            + len(self._towns)
            + len(self._village_suffixes)
        )

    @property
    def nbytes(self) -> int:
        """Bytes in the arrays (the names of provinces and cities aside)."""
        arrays = (
            self._counties,
            self._towns,
            self._village_offsets,
            self._village_suffixes,
            self._former,
            self._former_to,
            self._former_level,
        )
        return sum(a.itemsize * len(a) for a in arrays)

    # ---- the checks, as a reason to give a client (None: fine) -----------------

    def home_problem(self, code: str) -> str | None:
        """A person's home (户籍地, home address): a county, town or village, current
        or former (GB/T 2260's 6 digits stand for a county here)."""
        found = self.find(code)
        if found is None:
            return f"{code} is not a current or former administrative division code"
        if found.level <= Level.CITY and self._has_counties(found):
            return f"{self._what(found)}: a home needs the code of its county, town or village"
        return None

    def province_problem(
        self, code: str, province: str | None, *, field: str | None = None
    ) -> str | None:
        """Whether ``code`` lies in ``province`` as typed ("河南省", "河南"). A former
        code agrees with the province it was in and the one it is in now; a
        province name not recognised is not judged here. ``field``: the name of
        the province's field, for the reason."""
        if not province:
            return None
        named = self.province_named(province)
        if named is None:
            return None
        found = self.find(code)
        if found is None:
            return None  # refused as a code already
        in_ = {int(found.code[:2]), int(found.current[:2])}
        if named in in_:
            return None
        now = self._provinces.get(int(found.current[:2]), found.current[:2])
        given = f"{field} {province.strip()}" if field else province.strip()
        return f"{code} is in {now}, not in {given}"

    def province_named(self, text: str) -> int | None:
        """The province code a typed name stands for ("四川省", "四川", "广西"), or None."""
        text = "".join(unicodedata.normalize("NFKC", text).split())
        for code, short in self._short_names.items():
            if text.startswith(short):
                return code
        return None

    def jurisdiction_problem(self, prefix: str) -> str | None:
        """An agency's jurisdiction, as the code prefix it serves: a current
        province (2 digits), city (4), county (6), town (9) or village (12)."""
        if not (prefix.isascii() and prefix.isdigit()) or len(prefix) not in (2, 4, 6, 9, 12):
            return "must be 2, 4, 6, 9 or 12 digits"
        if len(prefix) == 2:
            if int(prefix) in self._provinces:
                return None
            return f"{prefix} is not the code of a current province"
        if len(prefix) == 4:
            if int(prefix) in self._cities:
                return None
            return f"{prefix} is not the code of a current city"
        found = self.find(prefix)
        if found is None:
            return f"{prefix} is not a current administrative division code"
        if found.former:
            return f"{prefix} is a former code, now {found.current}: give the current code"
        if len(prefix) == 6 and found.level <= Level.CITY:
            short = prefix[:2] if found.level is Level.PROVINCE else prefix[:4]
            return f"{self._what(found)}: the prefix its divisions share is {short}"
        return None

    def station_problem(self, code: str) -> str | None:
        """A station's area: a current city or county, 6 digits (411500, 411525)."""
        if not (code.isascii() and code.isdigit()) or len(code) != 6:
            return "must be 6 digits (a city or county code)"
        found = self.find(code)
        if found is None:
            return f"{code} is not a current or former administrative division code"
        if found.former:
            return f"{code} is a former code, now {found.current}: give the current code"
        if found.level is Level.PROVINCE:
            return f"{self._what(found)}: a station serves a city or county"
        return None

    # ---- inside ----------------------------------------------------------------

    def _what(self, found: Division) -> str:
        """ "510000 is 四川省 (a province)", "342600 is a former city code" """
        level = LEVEL_NAMES[found.level]
        if found.former:
            return f"{found.code} is {level.replace('a ', 'a former ', 1)} code"
        return f"{found.code} is {self.name_of(found.code)} ({level})"

    def _has_village(self, value: int) -> bool:
        i = bisect_left(self._towns, value // 1000)
        if i == len(self._towns) or self._towns[i] != value // 1000:
            return False
        lo, hi = self._village_offsets[i], self._village_offsets[i + 1]
        j = bisect_left(self._village_suffixes, value % 1000, lo, hi)
        return j < hi and self._village_suffixes[j] == value % 1000

    def _has_counties(self, found: Division) -> bool:
        """Whether anything lies below a province or city (Hong Kong: nothing)."""
        value = int(found.current)
        step = 10_000 if found.level is Level.PROVINCE else 100
        i = bisect_left(self._counties, value)
        return i < len(self._counties) and self._counties[i] < value + step


def _has(values: array, value: int) -> bool:
    i = bisect_left(values, value)
    return i < len(values) and values[i] == value


def _short_province_name(name: str) -> str:
    for suffix in ("特别行政区", "自治区", "省", "市"):
        name = name.removesuffix(suffix)
    for people in ("壮族", "回族", "维吾尔"):
        name = name.removesuffix(people)
    return name


# ---- building from the sources ---------------------------------------------------


def _read_codes(path: Path, *, names: dict[int, str] | None = None) -> array:
    """The codes of a china-division CSV (code,"name",…), sorted; the names too
    when ``names`` is given (provinces and cities only: a few hundred)."""
    codes = array("q")
    with path.open("rb") as fh:
        next(fh)  # the header
        for line in fh:
            comma = line.index(b",")
            code = int(line[:comma])
            codes.append(code)
            if names is not None:
                names[code] = line[comma + 1 :].split(b",", 1)[0].strip().strip(b'"').decode()
    if any(a >= b for a, b in zip(codes, codes[1:], strict=False)):
        codes = array("q", sorted(set(codes)))
    return codes


def _former_codes(
    path: Path, current: set[int], provinces: dict[int, str], cities: dict[int, str]
) -> tuple[list[tuple[int, int, int]], list[int]]:
    """(former 6-digit code, current 6-digit code, level) from quhua's events, and
    the counties set up after the snapshot."""
    events = json.loads(path.read_text("utf-8"))["events"]

    def six(code12: str | None) -> int | None:
        return int(code12) // 1_000_000 if code12 else None

    after: list[int] = []
    for e in events:
        new = six(e["new"].get("code"))
        if e["year"] >= _SNAPSHOT_YEAR and new and e["level"] == 3 and new not in current:
            if e["type"] != _NOT_A_CHANGE:
                after.append(new)
    current = current | set(after)

    by_old: dict[int, list[dict]] = {}
    for e in events:
        old = six(e["old"].get("code"))
        if old is not None and e["type"] != _NOT_A_CHANGE and e["level"] in (1, 2, 3):
            by_old.setdefault(old, []).append(e)

    def is_current(code: int) -> bool:
        if code in current:
            return True
        if code % 10_000 == 0 and code // 10_000 in provinces:
            return True
        return code % 100 == 0 and code // 100 in cities

    def successor(code: int, change: dict) -> int | None:
        """What ``code`` became through ``change``: its new code, else (abolished,
        or a move across provinces that is code noise) the unit it was under."""
        new = six(change["new"].get("code"))
        if new is not None and new // 10_000 != code // 10_000:
            if (code // 10_000, new // 10_000) not in _PROVINCE_MOVES:
                new = None
        new = new or six(change["old"].get("parent_code"))
        return new if new != code else None

    def step(code: int, since: int) -> tuple[int, int] | None:
        """The next code after ``code`` changed in or after year ``since``."""
        for e in by_old.get(code, ()):
            if e["year"] >= since and (new := successor(code, e)) is not None:
                return new, e["year"]
        return None

    def follow(old: int, change: dict) -> int | None:
        """The current code ``old`` became through ``change`` and what followed."""
        code = successor(old, change)
        if code is None:
            return None
        year = change["year"]
        for _ in range(40):
            if is_current(code):
                return code
            nxt = step(code, year)
            if nxt is None:
                return None
            code, year = nxt
        return None

    out: list[tuple[int, int, int]] = []
    for old, changes in by_old.items():
        if is_current(old):
            continue
        # the latest meaning first, for a code given again to another unit
        for change in sorted(changes, key=lambda e: -e["year"]):
            if (now := follow(old, change)) is not None:
                out.append((old, now, change["level"] - 1))
                break
    out.sort()
    return out, after


def build_division_codes(data_dir: Path) -> DivisionCodes:
    """From the sources in ``data_dir`` (seconds: 620,000 villages to read)."""
    provinces: dict[int, str] = {}
    cities: dict[int, str] = {}
    _read_codes(data_dir / "provinces.csv", names=provinces)
    _read_codes(data_dir / "cities.csv", names=cities)
    counties = _read_codes(data_dir / "areas.csv")
    towns = _read_codes(data_dir / "streets.csv")
    villages = _read_codes(data_dir / "villages.csv")
    offsets = array("i", [0] * (len(towns) + 1))
    suffixes = array("H")
    t = 0
    for code in villages:  # sorted: a town's villages follow one another
        town = code // 1000
        while t < len(towns) and towns[t] < town:
            t += 1
            offsets[t] = len(suffixes)
        if t == len(towns) or towns[t] != town:
            continue  # a village of no known town: not kept
        suffixes.append(code % 1000)
    for i in range(t + 1, len(towns) + 1):
        offsets[i] = len(suffixes)
    del villages
    former, after = _former_codes(data_dir / sources.CHANGES_FILE, set(counties), provinces, cities)
    if after:
        counties = array("q", sorted(set(counties) | set(after)))
    arrays = {
        "counties": array("i", counties),
        "towns": array("i", towns),
        "village_offsets": offsets,
        "village_suffixes": suffixes,
        "former": array("i", (f for f, _, _ in former)),
        "former_to": array("i", (c for _, c, _ in former)),
        "former_level": array("b", (lv for _, _, lv in former)),
    }
    return DivisionCodes(provinces, cities, arrays)


# ---- the cache -------------------------------------------------------------------


def _cache_key() -> dict[str, str]:
    pinned = {s.name: s.sha256 for s in sources.SOURCES}
    return {"format": str(_FORMAT), "china-division": pinned["china-division"],
            "quhua": pinned["quhua"], "byteorder": sys.byteorder}  # fmt: skip


def write_cache(codes: DivisionCodes, data_dir: Path) -> Path:
    """One file: a JSON header line (the sources it was built from, the names of
    provinces and cities, the arrays' lengths), then the arrays' bytes."""
    arrays = {
        "counties": codes._counties,
        "towns": codes._towns,
        "village_offsets": codes._village_offsets,
        "village_suffixes": codes._village_suffixes,
        "former": codes._former,
        "former_to": codes._former_to,
        "former_level": codes._former_level,
    }
    header = {
        "key": _cache_key(),
        "provinces": {str(k): v for k, v in codes._provinces.items() if k not in _BEYOND_MAINLAND},
        "cities": {str(k): v for k, v in codes._cities.items()},
        "lengths": {name: len(arrays[name]) for name, _ in _ARRAYS},
    }
    path = Path(data_dir) / CACHE_FILE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{CACHE_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
            for name, _ in _ARRAYS:
                arrays[name].tofile(out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _read_cache(path: Path) -> DivisionCodes | None:
    try:
        with path.open("rb") as fh:
            header = json.loads(fh.readline())
            if header.get("key") != _cache_key():
                return None
            arrays = {}
            for name, typecode in _ARRAYS:
                arrays[name] = array(typecode)
                arrays[name].fromfile(fh, header["lengths"][name])
    except (OSError, ValueError, EOFError, KeyError):
        return None
    return DivisionCodes(
        {int(k): v for k, v in header["provinces"].items()},
        {int(k): v for k, v in header["cities"].items()},
        arrays,
    )


class DivisionDataMissing(FileNotFoundError):
    """The gazetteer's sources are not where they were looked for."""


def load_division_codes(data_dir: Path | str | None = None) -> DivisionCodes:
    """The codes from ``data_dir`` (default: ``rescue_divisions.fetch.default_dir()``):
    from its cache when that was built from the pinned sources, else built from
    the sources and cached (when the directory is writable). Never downloads:
    ``make setup`` (``python -m rescue_divisions``) fetches."""
    data_dir = Path(data_dir) if data_dir is not None else sources.default_dir()
    cached = _read_cache(data_dir / CACHE_FILE)
    if cached is not None:
        return cached
    needed = [data_dir / name for name in sources.DIVISION_FILES]
    needed.append(data_dir / sources.CHANGES_FILE)
    if missing := [p.name for p in needed if not p.is_file()]:
        raise DivisionDataMissing(
            f"no administrative division data in {data_dir} (missing {', '.join(missing)}): "
            "run `make setup` (python -m rescue_divisions), or set GAZETTEER_DIR"
        )
    codes = build_division_codes(data_dir)
    try:
        write_cache(codes, data_dir)
    except OSError as exc:
        log.warning("division codes not cached in %s: %s", data_dir, exc)
    return codes


_lock = threading.Lock()
_process_codes: DivisionCodes | None = None


def division_codes() -> DivisionCodes:
    """This process's codes, from the default directory, loaded on first use
    (services load them at start-up: ``rescue_divisions.preload``)."""
    global _process_codes
    if _process_codes is None:
        with _lock:
            if _process_codes is None:
                _process_codes = load_division_codes()
    return _process_codes
