"""Benchmark of person-name search (search.names) on the real embedded Postgres.

Loads synthetic names into the name index (the ~100 commonest surnames by their
frequency plus compound ones; given names of one or two characters drawn from a
few hundred common given-name characters, commoner ones more often), then runs
queries one after another through ``find_names`` — homophones (汪晓明 for
王小明), dialect variants (臧 for 张, 牛 for 刘, 房 for 黄), typed pinyin,
near-homophones (one syllable off) and absent names — and prints, for one run on
this machine:

- latency of ``find_names`` (a session from the pool, the query, the reranking):
  p50, p99, max, against the target p99 ≤ 50 ms over 1,000,000 records;
- recall of the intended record in the top results, per kind of query: strict
  (it is in the top ``--limit``), and allowing ties (the top ``--limit`` are all
  scored at least as high as it: 1,000 people called 王伟 cannot all be first);
- for absent names, how often something is still called a "match".

    python3 -m uv run --frozen --no-sync python bench/name_search.py
    python3 -m uv run --frozen --no-sync python bench/name_search.py --records 100000 --queries 500
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, latency_summary, out, verdict  # noqa: E402

from rescue_chassis import migrations  # noqa: E402
from rescue_localnet.postgres import EmbeddedPostgres  # noqa: E402
from search.names import find_names, name_keys, name_similarity, usual_reading  # noqa: E402
from search.readings import loose  # noqa: E402

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "search" / "migrations"
TARGET_P99_MS = 50.0

# The commonest surnames with their share of the population in percent (2020
# census, rounded), then a few rarer ones that dialects confuse with them.
SURNAMES = """
王7.12 李7.00 张6.74 刘5.10 陈4.61 杨3.22 黄2.45 赵2.19 吴2.05 周1.93 徐1.71 孙1.53 马1.47
朱1.40 胡1.32 郭1.29 何1.18 林1.16 高1.11 罗1.10 郑0.98 梁0.97 谢0.83 宋0.80 唐0.79 许0.75
韩0.72 冯0.71 邓0.70 曹0.67 彭0.65 曾0.63 肖0.62 田0.60 董0.59 潘0.57 袁0.56 蔡0.53 蒋0.53
余0.52 于0.52 杜0.50 叶0.49 程0.48 魏0.46 苏0.46 吕0.45 丁0.44 任0.43 卢0.42 姚0.41 沈0.41
钟0.40 姜0.40 崔0.39 谭0.38 陆0.37 范0.36 汪0.35 廖0.34 石0.34 金0.33 韦0.32 贾0.32 夏0.31
付0.31 方0.30 邹0.29 熊0.29 白0.28 孟0.27 秦0.27 邱0.27 侯0.26 江0.26 尹0.25 薛0.25 闫0.24
段0.24 雷0.23 龙0.23 黎0.22 史0.22 陶0.21 贺0.21 毛0.20 郝0.20 顾0.19 龚0.19 邵0.18 万0.18
覃0.17 武0.17 钱0.17 戴0.16 严0.16 莫0.15 孔0.15 向0.15 常0.14 汤0.14 康0.13 易0.13 乔0.12
赖0.12 文0.12 牛0.10 章0.08 詹0.06 臧0.05 房0.05 单0.04 岑0.04 柳0.04 宁0.04 聂0.04 凌0.04
欧阳0.05 司马0.01 诸葛0.005 上官0.005 司徒0.01 东方0.003 皇甫0.005 尉迟0.002 长孙0.002
万俟0.001 令狐0.003 夏侯0.002 公孙0.002 慕容0.002
"""

# Common given-name characters, roughly commonest first.
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玲华红建国文辉鹏飞宇浩俊斌波宁婷雪琳"
    "晶燕梅凤春海林峰鑫新龙亮成东志小晓金玉德永福生荣佳子欣怡雨梓轩萱涵博思一嘉诗晨瑞泽"
    "睿天翔宏家昊琪然帅阳丹颖慧淑珍莉萍倩洁琴云彬凯健坤旭庆松利兵民光昌发学胜忠祥立江山"
    "水石长乐贵富根宝清秋冬菊莲荷花美丽娇媛婉蓉蕾薇芬芝兴旺盛隆安康寿喜庆双全维振中华伦"
    "继承宗耀祖先武斌文杰俊豪雄威鹰虎彪豹锋锐钢铁铭锦绣珠琳璐瑶瑾璇晴雯霖露霜岚巍峻崇岳"
    "川源润泉涌波涛澜沛洪浩淼鸿飞翔鹏程远志达通顺利和平安定宁静怡悦欢乐笑颜容貌红梅兰竹"
    "菊桂荣华富贵吉祥如意福禄寿喜财宝金银玉石磊鑫淼森焱垚晶品众德才兼备智勇仁义礼信孝悌"
    "忠恕廉耻勤俭谦和敬爱友善诚恳朴实正直刚毅坚强勇敢聪慧敏捷灵巧秀丽端庄贤淑温柔体贴"
)
# More common characters, for homophone and near-homophone variants.
EXTRA = "维薇卫为唯魏韦晓筱萧潇孝铭鸣名茗敏民闽林琳霖临麟磊蕾垒伟玮炜纬苇辉晖徽惠慧会汇"

STATIONS = [f"station-{i:02d}" for i in range(40)]
# Characters no synthetic name uses: names that are not in the index.
ABSENT_SURNAMES = "亓仉禚麹逄甯隗郄蒯訾"
ABSENT_GIVEN = "彧翀犇燚骉羴鱻芃翾翚翕翥翦"


@dataclass
class Target:
    kind: str
    record_id: uuid.UUID
    name: str


def parse_surnames() -> tuple[list[str], list[float]]:
    names, weights = [], []
    for item in SURNAMES.split():
        i = next(k for k, ch in enumerate(item) if ch.isdigit())
        names.append(item[:i])
        weights.append(float(item[i:]))
    return names, weights


def given_pool() -> tuple[list[str], list[float]]:
    chars = list(dict.fromkeys(GIVEN))
    return chars, [1 / (rank + 15) for rank in range(len(chars))]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.surnames, sw = parse_surnames()
        self.given, gw = given_pool()
        self._s_cum = _cumulative(sw)
        self._g_cum = _cumulative(gw)

    def name(self) -> str:
        rng = self.rng
        surname = self.surnames[_pick(self._s_cum, rng.random())]
        n = 1 if rng.random() < 0.35 else 2
        return surname + "".join(self.given[_pick(self._g_cum, rng.random())] for _ in range(n))

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return [x / total for x in out]


def _pick(cumulative: list[float], x: float) -> int:
    lo, hi = 0, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


# ---- loading ---------------------------------------------------------------------------

COLUMNS = [
    "record_kind",
    "record_id",
    "name",
    "reading",
    "person_id",
    "station_id",
    "loose_key",
    "given_loose_key",
    "indexed_at",
]


async def load(dsn: str, gen: Generator, records: int, targets: int) -> tuple[list[Target], int]:
    """COPY ``records`` synthetic names into the index (indexes dropped during the
    load and built again after it); returns the sampled targets and the row count."""
    picked = set(gen.rng.sample(range(records), min(targets, records)))
    chosen: list[Target] = []
    now = datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    try:
        constraints = await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
            "WHERE conrelid = 'name_index'::regclass AND contype IN ('p', 'u')"
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'name_index' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'name_index'::regclass)"
        )
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        for row in constraints:
            await conn.execute(f'ALTER TABLE name_index DROP CONSTRAINT "{row["conname"]}"')
        rows_total = 0
        batch: list[tuple] = []
        for i in range(records):
            name = gen.name()
            kind = "case" if gen.rng.random() < 0.8 else "report"
            record_id = gen.uuid()
            person_id = gen.uuid() if kind == "case" else None
            station = STATIONS[gen.rng.randrange(len(STATIONS))]
            keys = name_keys(name)
            for reading, loose_key, given_key in keys.rows():
                batch.append(
                    (
                        kind,
                        record_id,
                        keys.name,
                        reading,
                        person_id,
                        station,
                        loose_key,
                        given_key,
                        now,
                    )
                )
            if i in picked:
                chosen.append(Target(kind, record_id, keys.name))
            if len(batch) >= 50_000:
                await conn.copy_records_to_table("name_index", records=batch, columns=COLUMNS)
                rows_total += len(batch)
                batch = []
        if batch:
            await conn.copy_records_to_table("name_index", records=batch, columns=COLUMNS)
            rows_total += len(batch)
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for row in constraints:
            await conn.execute(
                f'ALTER TABLE name_index ADD CONSTRAINT "{row["conname"]}" {row["def"]}'
            )
        for row in indexes:
            await conn.execute(row["indexdef"])
        await conn.execute("VACUUM ANALYZE name_index")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return chosen, rows_total


# ---- queries ---------------------------------------------------------------------------


class Variants:
    """Ways a name is heard or written differently."""

    def __init__(self, gen: Generator) -> None:
        self.rng = gen.rng
        pool = list(dict.fromkeys([*gen.given, *EXTRA, *(s for s in gen.surnames if len(s) == 1)]))
        self.by_reading: dict[str, list[str]] = defaultdict(list)
        self.by_loose: dict[str, list[str]] = defaultdict(list)
        for ch in pool:
            r = usual_reading(ch)
            self.by_reading[r].append(ch)
            self.by_loose[loose(r)].append(ch)
        self.pool = pool
        surnames = {loose(name_keys(s + "一").options[0][0]) for s in gen.surnames}
        given = {loose(usual_reading(c)) for c in gen.given}
        self.absent_surnames = [
            c for c in ABSENT_SURNAMES if loose(usual_reading(c)) not in surnames
        ]
        self.absent_given = [c for c in ABSENT_GIVEN if loose(usual_reading(c)) not in given]

    def _reading(self, name: str, i: int) -> str:
        return name_keys(name).options[i][0]

    def homophone(self, name: str) -> str | None:
        """Some characters replaced by others read the same (汪晓明 for 王小明)."""
        chars = list(name)
        changed = False
        for i in self.rng.sample(range(len(chars)), len(chars)):
            others = [c for c in self.by_reading[self._reading(name, i)] if c != chars[i]]
            if others and (not changed or self.rng.random() < 0.5):
                chars[i] = self.rng.choice(others)
                changed = True
        return "".join(chars) if changed else None

    def dialect(self, name: str) -> str | None:
        """One character replaced by one a dialect merges with it (臧 for 张)."""
        chars = list(name)
        for i in self.rng.sample(range(len(chars)), len(chars)):
            r = self._reading(name, i)
            others = [c for c in self.by_loose[loose(r)] if usual_reading(c) != r]
            if others:
                chars[i] = self.rng.choice(others)
                return "".join(chars)
        return None

    def typed(self, name: str) -> str:
        """The name typed in pinyin, in one of the ways people type it."""
        keys = name_keys(name)
        surname = " ".join(s for o in keys.options[: keys.surname_len] for s in [o[0]])
        given = [o[0] for o in keys.options[keys.surname_len :]]
        style = self.rng.randrange(4)
        if style == 0:
            return f"{surname} {' '.join(given)}"
        if style == 1:
            return f"{surname.replace(' ', '').title()} {''.join(given).title()}"
        if style == 2:
            return (surname + "".join(given)).replace(" ", "")
        if len(given) >= 2 and keys.surname_len == 1:
            return f"{''.join(given).title()} {surname.title()}"
        return f"{surname.upper()} {''.join(given).upper()}"

    def near(self, name: str) -> str | None:
        """One given-name character replaced by one a syllable away (王小兵 for 王小明)."""
        keys = name_keys(name)
        if len(keys.units) < 3:
            return None
        from rapidfuzz.distance import OSA

        chars = list(name)
        for i in self.rng.sample(
            range(keys.surname_len, len(chars)), len(chars) - keys.surname_len
        ):
            lr = loose(keys.options[i][0])
            others = [c for c in self.pool if OSA.distance(loose(usual_reading(c)), lr) == 1]
            if others:
                chars[i] = self.rng.choice(others)
                return "".join(chars)
        return None

    def absent(self) -> str:
        """A name no record has, nor any homophone or dialect variant of it: its
        characters' readings are not those of the names loaded."""
        rng = self.rng
        given = "".join(rng.choice(self.absent_given) for _ in range(rng.choice((1, 2, 2))))
        return rng.choice(self.absent_surnames) + given


async def measure(sessions, queries, limit: int, verbose: bool = False):
    """Each query once, one after another: latencies (ms) and outcomes."""
    latencies: list[float] = []
    outcomes: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    absent_matches = 0
    for kind, query, target in queries:
        start = time.perf_counter()
        async with sessions() as session:
            found = await find_names(session, query, limit=limit)
        latencies.append((time.perf_counter() - start) * 1000)
        if target is None:
            if any(m.verdict == "match" for m in found):
                absent_matches += 1
                if verbose:
                    out(f"  absent {query}: {[(m.name, m.score) for m in found[:3]]}")
            continue
        strict = any(m.record_id == target.record_id for m in found)
        expected = name_similarity(query, target.name).score
        tie = strict or (len(found) == limit and found[-1].score >= expected)
        outcomes[kind].append((strict, tie))
    return latencies, outcomes, absent_matches


def build_queries(variants: Variants, targets: list[Target], count: int):
    rng = variants.rng
    makers = [
        ("same characters", lambda t: t.name),
        ("homophone", lambda t: variants.homophone(t.name)),
        ("dialect", lambda t: variants.dialect(t.name)),
        ("typed pinyin", lambda t: variants.typed(t.name)),
        ("one syllable off", lambda t: variants.near(t.name)),
        ("absent", None),
    ]
    queries = []
    i = 0
    while len(queries) < count:
        kind, make = makers[len(queries) % len(makers)]
        if make is None:
            queries.append((kind, variants.absent(), None))
            continue
        for _ in range(20):
            target = targets[i % len(targets)]
            i += 1
            query = make(target)
            if query:
                queries.append((kind, query, target))
                break
        else:
            queries.append(("absent", variants.absent(), None))
    rng.shuffle(queries)
    return queries


def given_first_queries(targets: list[Target], count: int, seed: int):
    """Issue 29: the name typed given name first ("Wei Zhang", "Xiaoming Wang"),
    drawn apart so the other kinds' queries stay those of earlier runs."""
    rng = random.Random(seed + 29)
    out_ = []
    for target in rng.sample(targets, min(count, len(targets))):
        keys = name_keys(target.name)
        surname = "".join(o[0] for o in keys.options[: keys.surname_len])
        given = "".join(o[0] for o in keys.options[keys.surname_len :])
        if given:
            out_.append(("given name first", f"{given.title()} {surname.title()}", target))
    return out_


async def main(args) -> None:
    gen = Generator(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        postgres.start()
        try:
            await postgres.create_databases(["bench"])
            url = postgres.sqlalchemy_url("bench")
            await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
            started = time.perf_counter()
            targets, rows = await load(postgres.dsn("bench"), gen, args.records, args.queries * 2)
            out(
                f"loaded {args.records:,} names ({rows:,} index rows: one per reading) "
                f"by COPY, indexes built, VACUUM ANALYZE: {time.perf_counter() - started:.0f} s"
            )
            variants = Variants(gen)
            warmup = build_queries(variants, targets[::-1], args.warmup)
            queries = build_queries(variants, targets, args.queries)
            queries += given_first_queries(targets, args.queries // 6, args.seed)
            engine = create_async_engine(url, pool_size=2)
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            await measure(sessions, warmup, args.limit)
            latencies, outcomes, absent_matches = await measure(
                sessions, queries, args.limit, args.verbose
            )
            await engine.dispose()
        finally:
            postgres.stop()

    stats = latency_summary(latencies)
    word = verdict(stats["p99"], TARGET_P99_MS, at_most=True)
    scale = "" if args.records >= 1_000_000 else f" (target is for 1,000,000; ran {args.records:,})"
    out(
        f"find_names over {args.records:,} records, {len(latencies)} queries one at a time "
        f"(after {args.warmup} warm-up): p50 {stats['p50']:.1f} ms, p99 {stats['p99']:.1f} ms, "
        f"max {stats['max']:.1f} ms; target p99 ≤ {TARGET_P99_MS:g} ms: {word}{scale}"
    )
    out(f"recall of the intended record in the top {args.limit}:")
    results = {"records": args.records, "p50_ms": stats["p50"], "p99_ms": stats["p99"]}
    strict_all = tie_all = n_all = 0
    for kind, values in sorted(outcomes.items()):
        strict = sum(s for s, _ in values)
        tie = sum(t for _, t in values)
        strict_all, tie_all, n_all = strict_all + strict, tie_all + tie, n_all + len(values)
        out(
            f"  {kind:<17} {len(values):>5} queries: strict {strict / len(values):6.1%}, "
            f"allowing ties {tie / len(values):6.1%}"
        )
        results[f"recall_{kind}"] = tie / len(values)
    out(
        f"  {'all':<17} {n_all:>5} queries: strict {strict_all / n_all:6.1%}, "
        f"allowing ties {tie_all / n_all:6.1%}"
    )
    absent = sum(1 for k, _, _ in queries if k == "absent")
    out(f"absent names: {absent_matches} of {absent} found a 'match' (close ones are expected)")
    results["verdict"] = word
    emit(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1200)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--verbose", action="store_true", help="show absent names that matched")
    asyncio.run(main(parser.parse_args()))
