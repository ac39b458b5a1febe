"""Readings of characters and dialect-merged keys (search.readings)."""

from search.readings import (
    char_readings,
    loose,
    loose_readings,
    preferred_reading,
    split_pinyin,
    syllables,
)


def test_every_reading_of_a_character_and_the_corrections_pypinyin_lacks():
    assert set(char_readings("单")) >= {"dan", "shan", "chan"}
    # pypinyin reads 漯 only as "ta"; the correction table adds "luo" (漯河)
    assert char_readings("漯")[0] == "luo"
    assert "ta" in char_readings("漯")
    assert char_readings("7") == ("7",)


def test_preferred_readings_of_places_and_surnames():
    assert preferred_reading("漯河") == ("luo", "he")
    assert preferred_reading("单县城关镇") == ("shan", "xian", "cheng", "guan", "zhen")
    assert preferred_reading("单", kind="surname") == ("shan",)
    assert preferred_reading("曾", kind="surname") == ("zeng",)


def test_dialect_mergers_fold_onto_one_key():
    assert loose("zhang") == loose("zang") == "zan"
    assert loose("shi") == loose("si")
    assert loose("nan") == loose("lan")
    assert loose("fei") == loose("hui")
    assert loose("feng") == loose("hong")
    assert loose("xing") == loose("xin")
    assert loose("lv") == loose("lu")
    assert loose("zhang") != loose("zhao")
    assert loose_readings("张三") == [("zan",), ("san",)]


def test_typed_pinyin_is_cut_into_syllables():
    assert "zhuang" in syllables() and "xyz" not in syllables()
    assert split_pinyin("xiaohezhuang") == ["xiao", "he", "zhuang"]
    assert split_pinyin("Xiao He Zhuang") == ["xiao", "he", "zhuang"]
    assert split_pinyin("xi'an") == ["xi", "an"]
    assert split_pinyin("lüliang") == ["lv", "liang"]
    # a typo is kept whole for fuzzy scoring, not dropped
    assert split_pinyin("xaio he") == ["xaio", "he"]
