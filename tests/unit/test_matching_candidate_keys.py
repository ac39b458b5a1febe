"""The matching index's keys and rules (search.candidates), without a database: every
pair the ranking (search.ranking) could keep shares a key or passes the place rule
(a city shared), so the index only narrows what is ranked."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime

import pytest

from search import candidates, matching
from search.names import name_similarity
from search.ranking import AGE_CLOSE_YEARS, ResolvedPlace, Sides, rank
from search.tables import SearchCase
from search.tables.evidence import MissingPersonReport

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def some_names() -> list[str]:
    """Homophones, dialect mergers, near syllables, given names alone, compound
    surnames, typed pinyin both ways, a typo, one-character and pet names."""
    rng = random.Random(30)
    given = "小晓明鸣名敏伟玮长乐峰芬华花建国强军"
    surnames = ["王", "汪", "黄", "李", "张", "臧", "刘", "牛", "曾", "欧阳", "房", "方"]
    found = {
        rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice([1, 2, 2, 3])))
        for _ in range(110)
    }
    found |= {"wang xiao ming", "Xiaoming Wang", "zhang wei", "Wei Zhang", "xiaoming"}
    found |= {"xaio ming", "明", "敏", "乐乐", "小明", "晓明", "不详"}
    return sorted(found)


def test_every_pair_of_names_the_ranking_calls_alike_shares_a_key():
    names = some_names()
    stored = {n: candidates.name_block_keys([n]) for n in names}
    looked_up = {n: candidates.name_block_keys([n], query=True) for n in names}
    alike = [
        (a, b) for a, b in itertools.permutations(names, 2) if name_similarity(a, b).score >= 0.4
    ]
    assert len(alike) > 100  # the sample has homophones, near ones, given names alone
    assert [(a, b) for a, b in alike if not looked_up[a] & stored[b]] == []


def test_names_that_sound_apart_do_not_share_a_key():
    assert not candidates.name_block_keys(["王小明"], query=True) & candidates.name_block_keys(
        ["赵春梅"]
    )
    assert candidates.name_block_keys(["不详"]) == set()


def test_a_reports_name_heard_in_the_clues_shares_a_key():
    heard = candidates.text_keys(["他反复念叨李建国这个名字", "hello 王"])
    assert candidates.wanted_text_key(" 李建国 ") in heard
    assert candidates.wanted_text_key("李") is None  # judge_name: two characters at least
    assert candidates.wanted_text_key("Li Jianguo") is None


def test_places_are_keyed_by_the_city_of_their_significant_code():
    codes = candidates.place_codes(
        [
            ResolvedPlace("固始", "411525000000", ("河南省",), 0.9),
            ResolvedPlace("南充", "511300000000", ("四川省", "南充市"), 0.9),
            ResolvedPlace("新政镇", "511324101000", ("四川省",), 0.9),
            ResolvedPlace("湖北", "420000000000", ("湖北省",), 1.0),
        ]
    )
    assert codes == ["411525", "42", "5113", "511324101"]
    # a place known only to its province has no key: a province alone keeps no pair
    assert candidates.city_keys(codes) == {"c|4115", "c|5113"}
    assert candidates.known_sex("unknown") is None and candidates.known_sex("female") == "female"


# ---- the place rule: what a pair meeting by place alone can never reach ------------

LEVELS = {
    "same place": ("411525101", "411525101"),
    "township": ("411525101201", "411525101"),
    "county": ("411525", "411525101"),
    "same city": ("4115", "4115"),
    "city": ("4115", "411525"),
    "province": ("41", "4115"),
    "same province": ("41", "41"),
    "apart": ("4115", "5113"),
}
# the best a name can do without meeting (score < 0.4), and no name at all
NAMES = {"near miss": (["欧阳建国强盛兴旺"], "欧阳建国强盛兴"), "none": ([], "王小明")}


def place_only(
    level: str, name: str, *, sex=("male", "male"), ages=(60, 60), sure=(1.0, 1.0)
) -> Sides:
    ours, theirs = LEVELS[level]
    names, wanted = NAMES[name]
    return Sides(
        names=names,
        wanted_name=wanted,
        sex=sex[0],
        reported_sex=sex[1],
        age=ages[0],
        reported_age=ages[1],
        places=[ResolvedPlace("a", ours, (), sure[0])],
        reported_places=[ResolvedPlace("b", theirs, (), sure[1])],
    )


def passes_the_place_rule(ours: str, theirs: str, sex, ages) -> bool:
    """search.candidates._CANDIDATES's place part, for one place a side: a shared
    city key, the sex, and the age unless the very code or a township is shared."""
    if not candidates.city_keys([ours]) & candidates.city_keys([theirs]):
        return False
    if None not in sex and sex[0] != sex[1]:
        return False
    if None in ages or abs(ages[0] - ages[1]) <= AGE_CLOSE_YEARS:
        return True
    return ours == theirs or (len(ours) >= 9 and len(theirs) >= 9 and ours[:9] == theirs[:9])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("level", LEVELS)
def test_a_pair_met_by_place_alone_is_never_kept_when_the_sex_differs(level, name):
    assert rank(place_only(level, name, sex=("male", "female"))) is None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("level", ["county", "city", "province", "same province", "apart"])
def test_a_pair_met_by_place_alone_is_never_kept_when_the_ages_differ_below_a_township(level, name):
    for gap in (8, 20, 60):
        assert rank(place_only(level, name, ages=(60, 60 + gap))) is None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("level", ["province", "same province", "apart"])
def test_a_pair_met_by_place_alone_is_never_kept_above_a_city(level, name):
    # issue 30: a province holds tens of millions; it counts, but identifies no one
    for sex, ages in itertools.product([("male", "male"), (None, None)], [(60, 60), (60, None)]):
        assert rank(place_only(level, name, sex=sex, ages=ages)) is None


def test_the_place_rule_is_no_narrower_than_the_ranking():
    assert 0.3 < name_similarity(*NAMES["near miss"][0], NAMES["near miss"][1]).score < 0.4
    # the very place keeps a pair ages apart (a township is kept too: a name may
    # score up to 0.4 without meeting); a city keeps a pair of like age and sex
    assert rank(place_only("same place", "near miss", ages=(60, 70))) is not None
    assert rank(place_only("city", "none")) is not None
    assert rank(place_only("city", "none", sure=(0.5, 0.5))) is not None


def test_every_pair_kept_by_place_alone_passes_the_place_rule():
    sexes = [("male", "male"), ("male", "female"), ("male", None), (None, None)]
    ages = [(60, 60 + gap) for gap in (0, 3, 4, 7, 8, 12, 40)] + [(60, None), (None, None)]
    kept = 0
    for level, name, sex, age, sure in itertools.product(
        LEVELS, NAMES, sexes, ages, [(1.0, 1.0), (1.0, 0.5)]
    ):
        if rank(place_only(level, name, sex=sex, ages=age, sure=sure)) is None:
            continue
        kept += 1
        assert passes_the_place_rule(*LEVELS[level], sex, age), (level, name, sex, age, sure)
    assert kept > 50  # the rule is exercised, not vacuous


# ---- a record's side of the index ----------------------------------------------------


def a_case(**fields) -> SearchCase:
    values = dict(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id="gushi",
        status="open",
        arrived_at=NOW,
        opened_at=NOW,
        notice_due_at=NOW,
        sex="male",
        estimated_age=60,
        categories=[],
    )
    return SearchCase(**{**values, **fields})


def resolve(text: str) -> tuple[ResolvedPlace, ...]:
    return {"固始": (ResolvedPlace("固始", "411525000000", (), 0.99),)}.get(text, ())


def test_a_cases_places_wait_for_the_gazetteer_only_when_it_said_some():
    said = matching.person_profile(a_case(stated_names="王小明", stated_places="固始"), ())
    assert matching.case_blocking(said, None).codes is None  # resolved by the next report
    assert matching.case_blocking(said, resolve).codes == ("411525",)
    silent = matching.person_profile(a_case(stated_names="王小明"), ())
    assert matching.case_blocking(silent, None).codes == ()
    blocking = matching.case_blocking(said, resolve)
    assert (blocking.sex, blocking.age) == ("male", 60)
    assert candidates.name_block_keys(["王小明"]) <= blocking.keys
    assert blocking.keys <= blocking.lookup


@pytest.mark.parametrize(
    "fields,born",
    [
        ({"birth_year": 1964, "age": 50}, 1964),  # the birth year wins, as in age_now
        ({"age": 58}, 2026 - 58),
        ({}, None),
    ],
)
def test_a_reports_age_is_kept_as_a_birth_year(fields, born):
    report = MissingPersonReport(
        id=uuid.uuid4(),
        station_id="gushi",
        status="open",
        reported_name="王小明",
        sex="unknown",
        last_seen_place="固始",
        contact_name="李",
        contact_phone="1",
        reported_by="w1",
        reported_at=NOW,
        **fields,
    )
    blocking = matching.report_blocking(report, resolve)
    assert blocking.born == born and blocking.sex is None
    assert blocking.codes == ("411525",)
    assert candidates.wanted_text_key("王小明") in blocking.keys
