"""Addresses as people say them (issue 29, search.gazetteer.address): several
levels at once, short forms, pinyin, spoken fillers, traditional characters,
prominence, former units' codes; person names in either order and the same
mergers as places. Against the real gazetteer (fetched by `make setup` into
var/gazetteer; the fixture fetches it when missing)."""

from __future__ import annotations

import importlib

import pytest

from search.gazetteer.address import fold, strip_fillers
from search.names import name_keys, name_similarity, query_keys
from search.ranking import place_resolver

GUSHI, XINYANG, HENAN = "411525", "4115", "41"


@pytest.fixture(scope="module")
def gaz(gazetteer):
    return gazetteer


def _first(gaz, text, **context):
    answer = gaz.address(text, **context)
    assert answer.places, text
    return answer, answer.places[0]


def test_a_province_in_short_and_a_county_are_two_levels(gaz):
    answer, top = _first(gaz, "河南固始")
    assert top.code == GUSHI and top.name == "固始县" and top.path[0] == "河南省"
    assert [(lv.level, lv.code, lv.name, lv.said) for lv in answer.levels] == [
        ("province", HENAN, "河南省", "河南"),
        ("county", GUSHI, "固始县", "固始"),
    ]
    assert answer.levels[0].how == "short form" and answer.rest == ""
    assert answer.ambiguity == 1


def test_a_province_and_a_city_find_the_city_not_the_province(gaz):
    answer, top = _first(gaz, "四川达州")
    assert (top.name, top.code, top.level) == ("达州市", "5117", "city")
    assert [lv.level for lv in answer.levels] == ["province", "city"]


def test_pinyin_levels_with_or_without_spaces_and_tones(gaz):
    assert _first(gaz, "hubei xiangyang")[1].code == "4206"  # 襄阳市, not a village 北向阳
    for text in ("henan gushi", "henangushi", "Hé Nán Gù Shǐ", "he2 nan2 gu4 shi3"):
        answer, top = _first(gaz, text)
        assert top.code == GUSHI, text
        assert [lv.how for lv in answer.levels] == ["pinyin", "pinyin"], text


def test_spoken_fillers_around_a_place_are_dropped(gaz):
    assert strip_fillers("老家是信阳的") == "信阳"
    assert strip_fillers("在固始县那边") == "固始县"
    for text in ("固始那边", "固始县那边", "在固始", "老家在固始县", "固始那块", "我是固始人"):
        assert _first(gaz, text)[1].code == GUSHI, text
    for text in ("信阳村里", "老家是信阳的"):
        answer, top = _first(gaz, text)
        assert top.code == XINYANG and top.level == "city", text
        assert answer.cleaned == "信阳"


def test_traditional_and_variant_characters_fold_to_simplified(gaz):
    assert _first(gaz, "固始縣")[1].code == GUSHI
    assert _first(gaz, "河南省固始縣郭陸灘鎮")[1].code == "411525105"
    # a character some division is written with stays: 乾县, not 干县
    written = gaz._parser.written
    assert fold("乾县", written) == "乾县" and fold("乾县") == "干县"
    assert fold("鄭州", written) == "郑州"


def test_four_levels_run_together_find_the_village(gaz):
    for text in ("河南固始郭陆滩西园", "河南省固始县郭陆滩镇西园村", "信阳固始郭陆滩西园村"):
        answer, top = _first(gaz, text)
        assert top.code == "411525105201" and top.name.startswith("西园"), text
        assert [lv.level for lv in answer.levels][-2:] == ["county", "township"], text
        assert answer.rest.startswith("西园")


def test_a_homophone_in_the_county_or_the_township_is_tolerated(gaz):
    for text in ("河南固市郭陆滩西园", "河南固始郭路滩西园"):
        answer, top = _first(gaz, text)
        assert top.code == "411525105201", text
        assert "homophone" in [lv.how for lv in answer.levels], text


def test_prominence_breaks_ties_for_names_that_look_like_a_county_or_city(gaz):
    top3 = [m.name for m in gaz.address("zengzou").places[:3]]
    assert "郑州市" in top3  # zh/z twice: 郑州 before the villages 曾洲
    assert _first(gaz, "nanjin")[1].name == "南京市"  # -ng/-n
    assert _first(gaz, "fubei")[1].name == "湖北省"  # f/h
    assert _first(gaz, "牛州")[1].name == "柳州市"  # n/l, before a village 牛洲
    # the same name at several levels: the city first, all of them fit equally
    answer, top = _first(gaz, "朝阳")
    assert top.name == "朝阳市" and answer.ambiguity > 3


def test_a_village_before_its_own_same_named_township(gaz):
    plain = gaz.address("郭陆滩", county="固始县").places
    assert plain[0].level == "village" and plain[0].code.startswith("411525105")
    assert plain[1].code == "411525105"  # its township, next
    assert gaz.address("郭陆滩村", county="固始县").places[0].level == "village"
    assert gaz.address("郭陆滩镇", county="固始县").places[0].level == "township"
    # the one-name search too, with the county as context
    assert gaz.search("郭陆滩", county="固始县")[0].level == "village"


def test_former_units_carry_their_own_code_and_the_current_units(gaz):
    _, former = _first(gaz, "河南固始郭陆滩玄中")
    assert former.name.startswith("玄中") and not former.current and former.level == "village"
    # the sources give a former village no code: the township it is now part of
    assert former.now_code == "411525105" == former.code and not former.own_code
    merged = gaz.search("南汇县")[0]
    assert (merged.code, merged.now_code, merged.own_code) == ("310205", "310115", True)
    current = gaz.lookup(GUSHI)
    assert current.now_code == current.code == GUSHI


def test_the_resolver_of_every_place_field_understands_addresses(gaz):
    resolve = place_resolver(gaz.find)
    assert resolve("老家是信阳的")[0].code == XINYANG
    assert resolve("河南固始")[0].code == GUSHI
    assert resolve("hubei xiangyang")[0].path == ("湖北省", "襄阳市")
    assert resolve("南汇县")[0].path == ("上海市", "浦东新区")  # a former name followed


def test_the_places_answer_adds_the_parse_and_the_ambiguity(gaz):
    lookup = importlib.import_module("search.api.lookup")
    views = lookup.address_views(gaz.address("河南固始", limit=3))
    first = views[0].model_dump()
    # the fields GET /places always had, unchanged
    assert first["code"] == GUSHI and first["path"] == ["河南省", "信阳市", "固始县"]
    assert {"name", "level", "path_codes", "pinyin", "score", "current", "why"} <= set(first)
    assert [p["code"] for p in first["parse"]] == [HENAN, GUSHI]
    assert first["parse"][0]["said"] == "河南" and first["ambiguity"] == 1
    assert all(v.parse == views[0].parse for v in views)


def test_person_names_in_either_order():
    sim = name_similarity("张伟", "Wei Zhang")
    assert sim.verdict == "match" and sim.score >= 0.88
    assert "given name first" in sim.why
    assert name_similarity("Wei Zhang", "张伟").score == sim.score
    assert name_similarity("王小明", "Xiaoming Wang").verdict == "match"
    # the index is looked up in both orders
    assert "zan wei" in query_keys(name_keys("Wei Zhang"))["full"]


def test_person_names_have_the_mergers_places_have(gaz):
    feng = name_similarity("李峰", "李芬")
    assert feng.verdict == "match" and "dialect: -ng/-n" in feng.why
    assert name_similarity("李峰", "li fen").verdict == "match"
    assert "li hong" in query_keys(name_keys("李芬"))["near"]  # 峰's key, found
    hw = name_similarity("黄伟", "王伟")
    assert hw.verdict == "match" and "dialect: h/w" in hw.why
    # the places meet the same way: 湖 heard as wu
    assert _first(gaz, "wubei")[1].name == "湖北省"
