"""Read the sources into compact arrays: one row per place, no object per place.

Rows 0 … n_current-1 are the current divisions (2023-06-30), sorted by their
12-digit code, so a province, city, county or township is a contiguous range of
rows. Rows from n_current on are former names: counties and cities renamed or
merged (quhua change events, each with the current division it became) and
townships and villages listed in the older address tree but gone by 2023 (now
part of the township or county they were under).

Names are kept as one UTF-8 blob of core names ("小河庄") plus a suffix number
("村委会"), readings as a CSR inverted index from dialect-merged syllable
bigrams, skip-bigrams and (for short names) unigrams to int32 row numbers.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rescue_divisions import fetch as sources
from search.gazetteer.text import core_name
from search.readings import char_readings, loose, preferred_reading

_PSEUDO_CITIES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
_SCALE = (10**10, 10**8, 10**6, 10**3, 1)  # 12-digit code = short code × scale[level]
DIGITS = (2, 4, 6, 9, 12)
MAX_KEYS = 4  # dialect-merged keys kept per character
_HASH_P = np.uint64(1_000_003)
_MASK64 = (1 << 64) - 1


@dataclass
class Tables:
    """Everything the index needs, in arrays (see module docstring)."""

    core_blob: bytes
    core_off: np.ndarray  # int32 [n+1] byte offsets into core_blob
    suffix: np.ndarray  # uint16 [n]: index into suffixes; name = core + suffixes[i]
    suffixes: list[str]
    odd_names: dict[int, str]  # rows whose name is not core + a suffix
    code: np.ndarray  # int64 [n] 12-digit code (0 for a former township/village)
    level: np.ndarray  # int8 [n] 0 province … 4 village
    parent: np.ndarray  # int32 [n] row of the parent (-1 for a province)
    n_current: int
    dest: np.ndarray  # int32 [n - n_current]: current row a former name is now part of
    former_year: np.ndarray  # int16 [n - n_current]: year of the change (0 unknown)
    former_paths: dict[int, tuple[tuple[str, ...], tuple[str, ...]]]  # quhua rows
    core_len: np.ndarray  # uint8 [n] characters in the core name
    char_hash: np.ndarray  # uint64 [n] hash of the core's characters
    read_hash: np.ndarray  # uint64 [n] hash of the core's first readings
    key_of: dict[str, int]  # loose syllable → key id
    reading_id: dict[str, int]  # toneless reading → id used in read_hash
    post_off: np.ndarray  # int64 [n_keyspace+1]
    post_ids: np.ndarray  # int32 postings
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.level)

    @property
    def nk(self) -> int:
        return len(self.key_of)


def _read_csv(path: Path) -> tuple[list[int], list[str]]:
    codes: list[int] = []
    names: list[str] = []
    lines = path.read_text("utf-8").splitlines()
    for line in lines[1:]:
        code, name, _ = (line + ",").split(",", 2)
        codes.append(int(code))
        names.append(name.strip('"'))
    return codes, names


def _read_current(data_dir: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    codes: list[int] = []
    levels: list[int] = []
    names: list[str] = []
    for level, filename in enumerate(sources.DIVISION_FILES):
        c, n = _read_csv(data_dir / filename)
        for code, name in zip(c, n, strict=True):
            if level == 1 and name in _PSEUDO_CITIES:
                continue
            if level == 2 and code % 100 == 0:  # 441900 东莞市: the city itself again
                continue
            codes.append(code * _SCALE[level])
            levels.append(level)
            names.append(name)
    code = np.asarray(codes, dtype=np.int64)
    order = np.argsort(code, kind="stable")
    return code[order], np.asarray(levels, dtype=np.int8)[order], [names[i] for i in order]


def _parents(code: np.ndarray, level: np.ndarray, sorted_codes: np.ndarray) -> np.ndarray:
    """The row of the nearest existing ancestor (-1 for provinces)."""
    parent = np.full(len(code), -1, dtype=np.int32)
    for up in range(4):
        scale = _SCALE[up]
        cand = code // scale * scale
        idx = np.searchsorted(sorted_codes, cand)
        idx_c = np.minimum(idx, len(sorted_codes) - 1)
        hit = (sorted_codes[idx_c] == cand) & (level > up)
        parent[hit] = idx_c[hit]
    return parent


def short_code(code12: int, level: int) -> str:
    return str(code12).zfill(12)[: DIGITS[level]]


class _Current:
    """Lookups over the current rows, used while adding former names."""

    def __init__(self, code: np.ndarray, level: np.ndarray, names: list[str], parent: np.ndarray):
        self.code, self.level, self.names, self.parent = code, level, names, parent

    def row(self, code12: int) -> int:
        i = int(np.searchsorted(self.code, code12))
        return i if i < len(self.code) and int(self.code[i]) == code12 else -1

    def path(self, row: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        names, codes = [], []
        while row >= 0:
            names.append(self.names[row])
            codes.append(short_code(int(self.code[row]), int(self.level[row])))
            row = int(self.parent[row])
        return tuple(reversed(names)), tuple(reversed(codes))


def _quhua_former(cur: _Current, path: Path) -> list[tuple]:
    """(name, level, code12, dest_row, year, path, path_codes) per former county/city."""
    events = json.loads(path.read_text("utf-8"))["events"]
    by_old: dict[int, list[dict]] = defaultdict(list)
    for e in events:
        if e["old"].get("code"):
            by_old[int(e["old"]["code"])].append(e)

    def resolve(code12: int, year: int, depth: int = 0) -> int:
        cur_code, y = code12, year
        last_row = -1
        for _ in range(40):
            row = cur.row(cur_code)
            if row >= 0:
                last_row = row
            step = None
            for e in by_old.get(cur_code, ()):
                new = e["new"].get("code")
                if e["year"] >= y and new and int(new) != cur_code and e["type"] != "码位改派":
                    step = e
                    break
            if step is None:
                break
            cur_code, y = int(step["new"]["code"]), step["year"]
        if last_row >= 0:
            return last_row
        return -1

    out: list[tuple] = []
    seen: set[tuple[str, int]] = set()
    for e in events:
        old = e["old"]
        if not old.get("code") or not old.get("name") or e["level"] not in (1, 2, 3):
            continue
        if e["type"] == "码位改派":
            continue
        code12 = int(old["code"])
        new = e["new"].get("code")
        dest = resolve(int(new), e["year"]) if new else -1
        if dest < 0 and new is None:
            dest = -1  # abolished without a successor: its parent below
        if dest < 0 and old.get("parent_code"):
            dest = resolve(int(old["parent_code"]), e["year"])
        if dest < 0:
            continue
        if cur.names[dest] == old["name"] or (old["name"], dest) in seen:
            continue
        row_same = cur.row(code12)
        if row_same >= 0 and cur.names[row_same] == old["name"]:
            continue  # still current under this code (a later snapshot undid it)
        seen.add((old["name"], dest))
        level = e["level"] - 1
        old_path = [p for p in (e.get("old_path") or []) if p]
        if len(old_path) != level + 1:
            prov = cur.row(code12 // 10**10 * 10**10)
            old_path = ([cur.names[prov]] if prov >= 0 and level > 0 else []) + [old["name"]]
        codes = [short_code(code12 // _SCALE[lv] * _SCALE[lv], lv) for lv in range(level + 1)]
        if len(old_path) != len(codes):
            codes = codes[:1] + codes[-1:] if len(old_path) == 2 else codes[-1:]
        out.append((old["name"], level, code12, dest, e["year"], tuple(old_path), tuple(codes)))
    return out


def _village_key(county_row: np.ndarray | int, core_hash: np.ndarray | int):
    return (np.asarray(county_row, dtype=np.int64) << 40) ^ (
        np.asarray(core_hash, dtype=np.int64) & ((1 << 40) - 1)
    )


def _address_former(cur: _Current, cores: list[str], quhua: list[tuple], path: Path, core):
    """Former townships and villages: in the older address tree, gone by 2023.
    Yields (name, level, parent_row_or_former_index, dest_row)."""
    tree = json.loads(path.read_text("utf-8"))
    n = len(cur.code)
    level = cur.level
    county_of = np.full(n, -1, dtype=np.int32)  # county row of each township/village
    rows = np.arange(n, dtype=np.int32)
    county_of[level == 2] = rows[level == 2]
    for lv in (3, 4):
        sel = rows[level == lv]
        par = cur.parent[sel]
        county_of[sel] = county_of[par]
    # current villages keyed by (county, core), with their township
    vrows = rows[(level == 4) & (county_of >= 0)]
    vkeys = _village_key(county_of[vrows], np.array([hash(cores[i]) for i in vrows]))
    order = np.argsort(vkeys)
    vkeys, vtown = vkeys[order], cur.parent[vrows[order]]

    by_full: dict[tuple[str, str, str], int] = {}
    by_prov: dict[tuple[str, str], list[int]] = defaultdict(list)
    townships: dict[int, dict[str, int]] = defaultdict(dict)
    for r in rows[level == 2]:
        r = int(r)
        names, _ = cur.path(r)
        by_full[(names[0], names[-2] if len(names) == 3 else "市辖区", names[-1])] = r
        by_prov[(names[0], names[-1])].append(r)
    for r in rows[level == 3]:
        if county_of[r] >= 0:
            townships[int(county_of[r])][cores[r]] = int(r)
    former_county: dict[tuple[str, str], int] = {}
    for name, lv, code12, dest, *_ in quhua:
        if lv == 2 and cur.level[dest] == 2:
            prov = cur.row(code12 // 10**10 * 10**10)
            if prov >= 0:
                former_county[(cur.names[prov], name)] = dest

    towns_out: list[tuple[str, int, int]] = []  # (name, county_row, dest_row)
    villages_out: list[tuple[str, int, int, int]] = []  # (name, town_ref, is_former_town, dest)
    for prov_name, cities in tree.items():
        for city_name, counties in cities.items():
            for county_name, towns in counties.items():
                county = by_full.get((prov_name, city_name, county_name), -1)
                if county < 0:
                    cands = by_prov.get((prov_name, county_name), [])
                    county = cands[0] if len(cands) == 1 else -1
                if county < 0:
                    county = former_county.get((prov_name, county_name), -1)
                if county < 0:
                    continue
                current_towns = townships.get(county, {})
                for town_name, villages in towns.items():
                    town_core = core(town_name)
                    town_row = current_towns.get(town_core, -1)
                    v_cores = [core(v) for v in villages]
                    keys = _village_key(county, np.array([hash(c) for c in v_cores], np.int64))
                    pos = np.minimum(np.searchsorted(vkeys, keys), len(vkeys) - 1)
                    found = vkeys[pos] == keys
                    if town_row >= 0:
                        ref, former_town, dest = town_row, 0, town_row
                    else:
                        moved = Counter(int(t) for t in vtown[pos[found]])
                        dest = moved.most_common(1)[0][0] if moved else county
                        towns_out.append((town_name, county, dest))
                        ref, former_town = len(towns_out) - 1, 1
                    for v, hit in zip(villages, found.tolist(), strict=True):
                        if not hit:
                            villages_out.append((v, ref, former_town, dest))
    return towns_out, villages_out


def _hash_rows(values: np.ndarray, pos: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per row, Σ value·P^pos over its core positions (uint64, wrapping)."""
    powers = np.array(
        [pow(int(_HASH_P), i, 1 << 64) for i in range(int(pos.max(initial=0)) + 1)],
        dtype=np.uint64,
    )
    with np.errstate(over="ignore"):
        terms = values.astype(np.uint64) * powers[pos]
    return np.add.reduceat(terms, starts) if len(starts) else np.zeros(0, np.uint64)


def hash_sequence(values: list[int]) -> int:
    """The same hash for a query (Python ints)."""
    h, p = 0, 1
    for v in values:
        h = (h + v * p) & _MASK64
        p = (p * int(_HASH_P)) & _MASK64
    return h


def build_tables(data_dir: Path) -> Tables:
    import time

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    code, level, names = _read_current(data_dir)
    n_current = len(code)
    parent = _parents(code, level, code)
    timings["read"] = time.perf_counter() - t0

    cores: list[str] = []
    suffix_ids: list[int] = []
    suffixes: dict[str, int] = {"": 0}
    odd: dict[int, str] = {}
    memo: dict[str, tuple[str, int]] = {}

    def add_name(name: str) -> None:
        got = memo.get(name)
        if got is None:
            core = core_name(name)[0]
            if name.startswith(core):
                sid = suffixes.setdefault(name[len(core) :], len(suffixes))
            else:
                sid = -1
            got = memo[name] = (core, sid)
        if got[1] < 0:
            odd[len(cores)] = name
        cores.append(got[0])
        suffix_ids.append(max(got[1], 0))

    for name in names:
        add_name(name)
    timings["cores"] = time.perf_counter() - t0

    cur = _Current(code, level, names, parent)
    quhua = _quhua_former(cur, data_dir / sources.CHANGES_FILE)

    def core_of(name: str) -> str:
        got = memo.get(name)
        return got[0] if got is not None else core_name(name)[0]

    towns, villages = _address_former(
        cur, cores, quhua, data_dir / sources.OLD_ADDRESS_FILE, core_of
    )
    timings["former"] = time.perf_counter() - t0

    f_code: list[int] = []
    f_level: list[int] = []
    f_parent: list[int] = []
    f_dest: list[int] = []
    f_year: list[int] = []
    former_paths: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for name, lv, code12, dest, year, path, path_codes in quhua:
        former_paths[len(cores)] = (path, path_codes)
        add_name(name)
        f_code.append(code12)
        f_level.append(lv)
        f_parent.append(-1)
        f_dest.append(dest)
        f_year.append(year)
    town_base = len(cores)
    for name, county, dest in towns:
        add_name(name)
        f_code.append(0)
        f_level.append(3)
        f_parent.append(county)
        f_dest.append(dest)
        f_year.append(0)
    for name, ref, former_town, dest in villages:
        add_name(name)
        f_code.append(0)
        f_level.append(4)
        f_parent.append(town_base + ref if former_town else ref)
        f_dest.append(dest)
        f_year.append(0)
    memo.clear()
    del names, quhua, towns, villages

    code = np.concatenate([code, np.asarray(f_code, dtype=np.int64)])
    level = np.concatenate([level, np.asarray(f_level, dtype=np.int8)])
    parent = np.concatenate([parent, np.asarray(f_parent, dtype=np.int32)])
    n = len(cores)

    # ---- characters → readings → keys -----------------------------------------
    joined = "".join(cores)
    lengths = np.fromiter((len(c) for c in cores), dtype=np.int32, count=n)
    cores.clear()
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    core_blob = joined.encode("utf-8")
    del joined
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    utf8_len = 1 + (cps >= 0x80).astype(np.int32) + (cps >= 0x800) + (cps >= 0x10000)
    byte_starts = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(utf8_len, out=byte_starts[1:])
    core_off = byte_starts[starts].astype(np.int32)
    del utf8_len, byte_starts
    uniq, inv = np.unique(cps, return_inverse=True)
    inv = inv.astype(np.int32)
    key_of: dict[str, int] = {}
    keys_tab = np.full((len(uniq), MAX_KEYS), -1, dtype=np.int32)
    first_read = np.zeros(len(uniq), dtype=np.int64)
    reading_id: dict[str, int] = {}
    for u, cp in enumerate(uniq.tolist()):
        readings = char_readings(chr(cp))
        ch = chr(cp)
        first = preferred_reading(ch)[0] if preferred_reading(ch) else readings[0]
        first_read[u] = reading_id.setdefault(first, len(reading_id) + 1)
        keys = list(dict.fromkeys(loose(r) for r in readings))[:MAX_KEYS]
        for k, key in enumerate(keys):
            keys_tab[u, k] = key_of.setdefault(key, len(key_of))
    timings["readings"] = time.perf_counter() - t0

    row_of = np.repeat(np.arange(n, dtype=np.int32), lengths)
    pos = (np.arange(len(cps), dtype=np.int64) - starts[:-1][row_of]).astype(np.int32)
    core_len = np.minimum(lengths, 255).astype(np.uint8)
    char_hash = _hash_rows(cps, pos, starts[:-1])
    read_hash = _hash_rows(first_read[inv], pos, starts[:-1])

    nk = len(key_of)
    nk2 = nk * nk
    combined: list[np.ndarray] = []
    rl = lengths[row_of]
    for gap, base in ((1, 0), (2, nk2)):
        js = np.nonzero(pos + gap < rl)[0]
        a, b = keys_tab[inv[js]], keys_tab[inv[js + gap]]
        rows_j = row_of[js].astype(np.int64)
        for s in range(MAX_KEYS):
            for t in range(MAX_KEYS):
                ok = (a[:, s] >= 0) & (b[:, t] >= 0)
                if ok.any():
                    key = base + a[ok, s].astype(np.int64) * nk + b[ok, t]
                    combined.append((key << 32) | rows_j[ok])
    js = np.nonzero(rl <= 2)[0]
    rows_j = row_of[js].astype(np.int64)
    a = keys_tab[inv[js]]
    for s in range(MAX_KEYS):
        ok = a[:, s] >= 0
        combined.append(((2 * nk2 + a[ok, s].astype(np.int64)) << 32) | rows_j[ok])
    del a, b, rows_j, js, rl, row_of, pos, inv, cps
    allkeys = np.concatenate(combined)
    del combined
    allkeys.sort()
    keep = np.ones(len(allkeys), dtype=bool)
    np.not_equal(allkeys[1:], allkeys[:-1], out=keep[1:])
    allkeys = allkeys[keep]
    del keep
    post_ids = (allkeys & 0xFFFFFFFF).astype(np.int32)
    post_off = np.searchsorted(allkeys >> 32, np.arange(2 * nk2 + nk + 1, dtype=np.int64))
    del allkeys
    timings["index"] = time.perf_counter() - t0

    return Tables(
        core_blob=core_blob,
        core_off=core_off,
        suffix=np.asarray(suffix_ids, dtype=np.uint16),
        suffixes=[s for s, _ in sorted(suffixes.items(), key=lambda kv: kv[1])],
        odd_names=odd,
        code=code,
        level=level,
        parent=parent,
        n_current=n_current,
        dest=np.asarray(f_dest, dtype=np.int32),
        former_year=np.asarray(f_year, dtype=np.int16),
        former_paths=former_paths,
        core_len=core_len,
        char_hash=char_hash,
        read_hash=read_hash,
        key_of=key_of,
        reading_id=reading_id,
        post_off=post_off.astype(np.int64),
        post_ids=post_ids,
        timings=timings,
    )
