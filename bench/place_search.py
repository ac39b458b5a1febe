"""Benchmark of the gazetteer (search.gazetteer): place-name search over every
division of China down to villages, current and former.

Prints, for one run on this machine:
- index build seconds (from the fetched CSV/JSON sources, no cache), and the
  process's resident memory before and after the load;
- query latency (median, p99) over a seeded mix: characters, characters with a
  spoken suffix, pinyin spaced and joined, with and without county context,
  homophone swaps, dialect pinyin, typos, former names;
- accuracy on random villages (seeded) with their county as context:
  (a) one character swapped for a homophone (another common character sharing
  a reading): right village first, in the top 10;
  (b) the preferred pinyin distorted by dialect mergers (zh→z, n→l, f→h,
  -ng→-n …): right village in the top 10.

    python bench/place_search.py
    python bench/place_search.py --villages 200 --queries 500 --seed 3
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections import defaultdict
from pathlib import Path

from common import emit, median, out, percentile, rss_mb, verdict

from search.gazetteer import load_gazetteer
from search.gazetteer.index import near_syllables
from search.readings import char_readings, is_han, preferred_reading

TARGETS = {
    "build_s": 10.0,
    "rss_mb": 500.0,
    "median_ms": 2.0,
    "p99_ms": 15.0,
    "homophone_first_pct": 90.0,
    "homophone_top10_pct": 98.0,
    "dialect_top10_pct": 95.0,
}


def homophone_table() -> dict[str, list[str]]:
    """reading → common characters (GB2312) that have it."""
    table: dict[str, list[str]] = defaultdict(list)
    for cp in range(0x4E00, 0x9FA6):
        ch = chr(cp)
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        for r in char_readings(ch):
            table[r].append(ch)
    return table


def swap_one(core: str, table, rng: random.Random) -> str | None:
    positions = [i for i, ch in enumerate(core) if is_han(ch)]
    rng.shuffle(positions)
    for i in positions:
        reading = preferred_reading(core[i])[0]
        others = [c for c in table.get(reading, ()) if c != core[i]]
        if others:
            return core[:i] + rng.choice(others) + core[i + 1 :]
    return None


_INITIAL = [("zh", "z"), ("ch", "c"), ("sh", "s"), ("z", "zh"), ("c", "ch"), ("s", "sh")]
_INITIAL += [("n", "l"), ("l", "n"), ("r", "l")]
# f/hu: fa~hua, fei~hui, fen~hun, feng~hong, fang~huang, fu~hu, fo~huo
_F_TO_HU = {
    "fa": "hua",
    "fan": "huan",
    "fang": "huang",
    "fei": "hui",
    "fen": "hun",
    "feng": "hong",
    "fo": "huo",
    "fou": "hou",
    "fu": "hu",
}
_HU_TO_F = {v: k for k, v in _F_TO_HU.items()}


def distort(syllable: str, rng: random.Random) -> str:
    """Random dialect mergers on one syllable (each applicable one with p≈0.6)."""
    s = syllable
    if s in _F_TO_HU or s in _HU_TO_F:
        if rng.random() < 0.6:
            s = _F_TO_HU.get(s) or _HU_TO_F[s]
    else:
        for a, b in _INITIAL:
            if s.startswith(a) and not (a in ("z", "c", "s") and s[1:2] == "h"):
                if rng.random() < 0.6:
                    s = b + s[len(a) :]
                break
    # -ng/-n: the mergers of southern and south-western Mandarin (not -ong)
    if s.endswith(("ang", "eng", "ing")) and rng.random() < 0.6:
        s = s[:-1]
    elif s.endswith(("an", "en", "in")) and rng.random() < 0.3:
        s = s + "g"
    return s


def dialect_pinyin(core: str, rng: random.Random) -> str | None:
    syls = list(preferred_reading(core))
    for _ in range(8):
        out_ = [distort(s, rng) for s in syls]
        if out_ != syls:
            return " ".join(out_)
    return None


def typo(pinyin: str, rng: random.Random) -> str:
    letters = list(pinyin.replace(" ", ""))
    if len(letters) < 4:
        return pinyin
    i = rng.randrange(1, len(letters) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        letters[i], letters[i + 1] = letters[i + 1], letters[i]
    elif kind == "drop":
        del letters[i]
    else:
        letters.insert(i, letters[i])
    return "".join(letters)


def main(args) -> dict:
    rng = random.Random(args.seed)
    preferred_reading("小河庄")  # the readings module loaded before the baseline
    near_syllables("zhaung")
    before = rss_mb_self()
    started = time.perf_counter()
    gaz = load_gazetteer(
        Path(args.data_dir) if args.data_dir else None, isolated=not args.in_process
    )
    build_s = time.perf_counter() - started
    after = rss_mb_self()
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    t = gaz.t
    out(
        f"gazetteer: {t.n:,} places ({t.n_current:,} current, {t.n - t.n_current:,} former), "
        f"{len(t.post_ids):,} postings"
    )
    out(
        f"build (fetch check + read + index + warm-up): {build_s:.2f} s  "
        f"target ≤ {TARGETS['build_s']:g} s  {verdict(build_s, TARGETS['build_s'], at_most=True)}"
    )
    grown = after - before
    out(
        f"memory: RSS {before:.0f} → {after:.0f} MB, +{grown:.0f} MB after load  "
        f"target ≤ {TARGETS['rss_mb']:g} MB  {verdict(grown, TARGETS['rss_mb'], at_most=True)}"
        f"  (build {'in process' if args.in_process else 'in a child process'}, "
        f"its peak RSS {child_peak:.0f} MB)"
    )

    villages = [r for r in range(t.n_current) if t.level[r] == 4]
    sample = rng.sample(villages, args.villages)
    table = homophone_table()

    def county_of(row: int) -> str:
        """The county (or, where there is none, the city) a village lies in."""
        found = row
        while found >= 0 and t.level[found] > 2:
            found = int(t.parent[found])
        return gaz._name(found)

    def twin(m, row, county) -> bool:
        """The same core name in the same county: no query could tell them apart."""
        if m.code == gaz.place(row).code:
            return True
        return (
            (
                gaz._core(row) == gaz._core(gaz._row_of_code(int(m.code.ljust(12, "0"))))
                and county in m.path
            )
            if m.current
            else False
        )

    first = top10 = first_strict = tried = 0
    d_top10 = d_tried = 0
    failures: list[str] = []
    for row in sample:
        core = gaz._core(row)
        county = county_of(row)
        code = gaz.place(row).code
        swapped = swap_one(core, table, rng)
        if swapped:
            tried += 1
            found = gaz.search(swapped, county=county, limit=10)
            if found and found[0].code == code:
                first_strict += 1
            if found and twin(found[0], row, county):
                first += 1
            elif len(failures) < args.show_failures:
                failures.append(
                    f"  homophone {swapped} for {core} in {county}: {[m.name for m in found[:3]]}"
                )
            if any(twin(m, row, county) for m in found):
                top10 += 1
        spoken = dialect_pinyin(core, rng)
        if spoken:
            d_tried += 1
            found = gaz.search(spoken, county=county, limit=10)
            if any(twin(m, row, county) for m in found):
                d_top10 += 1
            elif len(failures) < 2 * args.show_failures:
                failures.append(
                    f"  dialect '{spoken}' for {core} in {county}: {[m.name for m in found[:3]]}"
                )
    a_first = 100 * first / max(tried, 1)
    a_strict = 100 * first_strict / max(tried, 1)
    a_top = 100 * top10 / max(tried, 1)
    b_top = 100 * d_top10 / max(d_tried, 1)

    # ---- latency over a mix ---------------------------------------------------------
    former_rows = list(range(t.n_current, t.n))
    counties = [r for r in range(t.n_current) if t.level[r] == 2]
    mix: list[tuple[str, dict]] = []
    for _ in range(args.queries):
        row = rng.choice(villages)
        core = gaz._core(row)
        county = county_of(row)
        pinyin = " ".join(preferred_reading(core))
        kind = rng.randrange(10)
        ctx = {"county": county} if rng.random() < 0.5 else {}
        if kind == 0:
            mix.append((core, ctx))
        elif kind == 1:
            mix.append((core + "村", ctx))
        elif kind == 2:
            mix.append((pinyin, ctx))
        elif kind == 3:
            mix.append((pinyin.replace(" ", ""), ctx))
        elif kind == 4:
            mix.append((swap_one(core, table, rng) or core, ctx))
        elif kind == 5:
            mix.append((dialect_pinyin(core, rng) or pinyin, ctx))
        elif kind == 6:
            mix.append((typo(pinyin, rng), ctx))
        elif kind == 7:
            mix.append((gaz._name(rng.choice(former_rows)), {}))
        elif kind == 8:
            mix.append((gaz._name(rng.choice(counties)), {}))
        else:
            mix.append((pinyin + " cun", {"province": gaz.place(row).path[0]}))
    latencies = []
    for query, ctx in mix:
        t0 = time.perf_counter()
        gaz.search(query, **ctx)
        latencies.append((time.perf_counter() - t0) * 1000)
    med, p99 = median(latencies), percentile(latencies, 0.99)
    out(
        f"latency over {len(mix)} mixed queries: median {med:.2f} ms "
        f"(target ≤ {TARGETS['median_ms']:g}) {verdict(med, TARGETS['median_ms'], at_most=True)}, "
        f"p99 {p99:.2f} ms (target ≤ {TARGETS['p99_ms']:g}) "
        f"{verdict(p99, TARGETS['p99_ms'], at_most=True)}, max {max(latencies):.1f} ms"
    )
    out(f"accuracy, {len(sample)} random villages (seed {args.seed}), county as context:")
    out(
        f"  (a) one character → homophone ({tried} queries): right village first {a_first:.1f}% "
        f"(target ≥ {TARGETS['homophone_first_pct']:g}) "
        f"{verdict(a_first, TARGETS['homophone_first_pct'], at_most=False)} "
        f"[{a_strict:.1f}% by code alone; the rest are same-name twins in the county]"
    )
    out(
        f"      in the top 10 {a_top:.1f}% (target ≥ {TARGETS['homophone_top10_pct']:g}) "
        f"{verdict(a_top, TARGETS['homophone_top10_pct'], at_most=False)}"
    )
    out(
        f"  (b) dialect-distorted pinyin ({d_tried} queries): in the top 10 {b_top:.1f}% "
        f"(target ≥ {TARGETS['dialect_top10_pct']:g}) "
        f"{verdict(b_top, TARGETS['dialect_top10_pct'], at_most=False)}"
    )
    for line in failures:
        out(line)
    results = {
        "build_s": build_s,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_growth_mb": grown,
        "child_peak_mb": child_peak,
        "median_ms": med,
        "p99_ms": p99,
        "homophone_first_pct": a_first,
        "homophone_first_strict_pct": a_strict,
        "homophone_top10_pct": a_top,
        "dialect_top10_pct": b_top,
        "targets": TARGETS,
    }
    emit(results)
    return results


def rss_mb_self() -> float:
    import os

    return rss_mb(os.getpid())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="default var/gazetteer")
    parser.add_argument("--villages", type=int, default=500)
    parser.add_argument("--queries", type=int, default=1000, help="latency mix size")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--show-failures", type=int, default=5)
    parser.add_argument("--in-process", action="store_true", help="build without a child")
    main(parser.parse_args())
