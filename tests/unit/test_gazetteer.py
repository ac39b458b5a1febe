"""The gazetteer (search.gazetteer): places by characters or pinyin, homophones,
dialect mergers, typos, suffixes, context, former names.

The sources are fetched (pinned by sha256) into var/gazetteer by `make setup`;
the fixture fetches them itself when missing, so a fresh machine works too."""

from __future__ import annotations

import pytest

from search.gazetteer import PlaceMatch
from search.gazetteer.text import core_name, core_syllables


@pytest.fixture(scope="module")
def gaz(gazetteer):
    return gazetteer


def _in_hebei_named(matches: list[PlaceMatch], name: str) -> list[PlaceMatch]:
    return [m for m in matches if m.path[0] == "河北省" and m.name.startswith(name)]


def test_core_names_drop_administrative_and_spoken_suffixes():
    assert core_name("小河庄村委会")[0] == "小河庄"
    assert core_name("小河庄村村民委员会")[0] == "小河庄"
    assert core_name("多福巷社区居委会")[0] == "多福巷"
    assert core_name("新村村委会")[0] == "新村"  # never below two characters
    assert core_name("长阳土家族自治县") == ("长阳", (2,))
    assert core_name("南汇县") == ("南汇", (2,))
    assert core_syllables(["xiao", "he", "zhuang", "cun"]) == (["xiao", "he", "zhuang"], (4,))


def test_characters_find_the_hebei_villages_named_xiaohezhuang(gaz):
    found = gaz.search("小河庄", province="河北", limit=20)
    hebei = _in_hebei_named(found, "小河庄")
    assert hebei and found[0] in hebei
    top = found[0]
    assert top.level == "village" and top.current
    assert len(top.code) == 12 and top.code.startswith("13")
    assert top.path[-1] == top.name and len(top.path) == len(top.path_codes) == 5
    assert top.path_codes[-1] == top.code
    assert "same characters" in top.why and "inside 河北省" in top.why
    assert 0.0 <= top.score <= 1.0
    # 小河庄村 and the official 小河庄村民委员会 are the same core
    assert _in_hebei_named(gaz.search("小河庄村", province="河北省", limit=20), "小河庄")


def test_pinyin_spaced_or_joined_finds_the_same_villages(gaz):
    for query in ("xiao he zhuang", "xiaohezhuang", "xiao he zhuang cun"):
        found = gaz.search(query, province="河北", limit=20)
        assert _in_hebei_named(found, "小河庄"), query
        assert found[0].pinyin.startswith("xiao he zhuang")
        assert found[0].path[0] == "河北省"


def test_nanhui_county_resolves_to_pudong(gaz):
    found = gaz.search("南汇县")
    top = found[0]
    assert top.name == "南汇县" and not top.current and top.level == "county"
    assert top.now_part_of is not None
    assert top.now_part_of.name == "浦东新区"
    assert top.now_part_of.path == ("上海市", "浦东新区")
    assert top.now_part_of.code == "310115" and top.now_part_of.current
    assert "former name" in top.why


def test_xiangfan_resolves_to_xiangyang(gaz):
    for query in ("襄樊", "襄樊市", "xiang fan shi"):
        top = gaz.search(query)[0]
        assert top.name == "襄樊市" and not top.current, query
        assert top.now_part_of.path == ("湖北省", "襄阳市")
        assert top.now_part_of.code == "4206"


def test_a_homophone_swap_still_finds_the_village_in_its_county(gaz):
    # 大王庄 in 河北 … take a real village and swap one character for a homophone
    village = gaz.search("小河庄", province="河北")[0]
    county = village.path[2]
    found = gaz.search("小和庄", county=county)  # 和 (he) for 河
    assert found[0].code == village.code
    assert any(w.startswith("homophone of 河") for w in found[0].why)
    assert f"inside {county}" in found[0].why
    # the same swap without the county still lists such villages, lower
    assert gaz.search("小和庄")[0].score >= found[0].score * 0.7


def test_dialect_and_typo_pinyin(gaz):
    village = gaz.search("小河庄", province="河北")[0]
    county = village.path[2]
    # zh/z merger and a mistyped syllable
    assert village.code in [m.code for m in gaz.search("xiao he zuang", county=county)]
    typo = gaz.search("xiaohezhaung", county=county)
    assert typo[0].code == village.code
    assert any("typo" in w for w in typo[0].why)
    zang = gaz.search("zang zhuang", province="河南")
    assert any(m.name.startswith("张庄") and any("zh/z" in w for w in m.why) for m in zang)


def test_context_by_code_and_lookup(gaz):
    gushi = gaz.lookup("411525")
    assert gushi.name == "固始县" and gushi.path == ("河南省", "信阳市", "固始县")
    assert gushi.level == "county" and gushi.pinyin == "gu shi xian"
    assert gaz.lookup("41").name == "河南省"
    assert gaz.lookup("4115").name == "信阳市"
    assert gaz.lookup("999999") is None and gaz.lookup("abc") is None
    by_name = gaz.search("小河", county="固始县", limit=5)
    by_code = gaz.search("小河", county="411525", limit=5)
    assert [m.code for m in by_name] == [m.code for m in by_code]
    assert by_name[0].path[2] == "固始县" and "inside 固始县" in by_name[0].why
    assert gaz.search("固始")[0].code == "411525"


def test_correction_table_readings_reach_the_gazetteer(gaz):
    luohe = gaz.search("luo he shi")[0]  # 漯 is only "ta" to pypinyin
    assert luohe.name == "漯河市" and luohe.pinyin == "luo he shi"
    assert gaz.search("lu an shi")[0].name == "六安市"
