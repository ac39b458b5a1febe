"""Person-name keys and similarity (search.names): homophones, dialect mergers,
surname readings, compound surnames and typed pinyin. No I/O."""

from search.names import (
    COMPOUND_SURNAMES,
    name_keys,
    name_similarity,
    near_syllables,
    query_keys,
    split_names,
)


def test_keys_of_a_name_split_surname_and_given_name():
    keys = name_keys("王小明")
    assert (keys.name, keys.surname, keys.given) == ("王小明", "王", "小明")
    assert keys.reading == "wang xiao ming"
    assert keys.loose_keys[0] == "wan xiao min"
    assert keys.given_readings[0] == "xiao ming"
    assert keys.given_loose_keys[0] == "xiao min"
    # every reading combination of the given name, the usual one first
    assert "wang xiao meng" in keys.readings
    assert keys.rows()[0] == ("wang xiao ming", "wan xiao min", "xiao min")


def test_a_surname_has_its_surname_reading_only():
    # 曾 as a surname is "zeng", never "ceng"; 单 is "shan"; 万 is "wan" (万俟 is "mo qi")
    assert {r.split()[0] for r in name_keys("曾国藩").readings} == {"zeng"}
    assert name_keys("单田芳").reading.startswith("shan ")
    assert name_keys("万小明").reading.startswith("wan ")
    # 王 has a rare pypinyin reading "yu": not for the surname (于小明 is someone else)
    assert all(r.startswith("wang ") for r in name_keys("王小明").readings)
    # in a given name every reading counts: 曾 in 王曾 may be "ceng"
    assert {"wang zeng", "wang ceng"} <= set(name_keys("王曾").readings)


def test_compound_surnames():
    assert "欧阳" in COMPOUND_SURNAMES and "诸葛" in COMPOUND_SURNAMES
    keys = name_keys("欧阳明")
    assert (keys.surname, keys.given, keys.reading) == ("欧阳", "明", "ou yang ming")
    assert name_keys("尉迟恭").reading == "yu chi gong"
    assert name_keys("万俟卨").reading.startswith("mo qi ")
    assert name_keys("长孙无忌").reading == "zhang sun wu ji"
    assert name_keys("诸葛亮").given == "亮"
    # two characters are a surname and a given name
    assert name_keys("欧阳").surname == "欧"


def test_typed_pinyin_is_accepted():
    for typed in ("wang xiao ming", "Wang Xiaoming", "WANG XIAOMING", "wangxiaoming"):
        keys = name_keys(typed)
        assert keys.typed and keys.reading == "wang xiao ming", typed
        assert (keys.surname, keys.given) == ("wang", "xiao ming")
    # the given name first, as written abroad
    assert name_keys("Xiaoming Wang").reading == "wang xiao ming"
    # a compound surname typed
    assert name_keys("Ouyang Ming").surname == "ou yang"
    assert name_keys("lü xiao hong").reading == "lv xiao hong"


def test_placeholders_and_lists_of_names():
    assert name_keys("不详").name == ""
    assert name_keys("  ").name == ""
    assert split_names("王小明、小明，不详; 明子") == ["王小明", "小明", "明子"]
    assert name_keys("阿依古丽·买买提").name == "阿依古丽买买提"


def test_same_characters_score_one():
    same = name_similarity("王小明", "王 小明")
    assert (same.score, same.verdict, same.why) == (1.0, "match", ("same characters",))


def test_homophones_have_the_same_reading():
    # the family reported 王小明; the staff wrote 汪晓明
    sim = name_similarity("王小明", "汪晓明")
    assert sim.verdict == "match" and 0.88 <= sim.score < 1.0
    assert "same reading (wang xiao ming)" in sim.why
    assert "homophone: 王/汪" in sim.why and "homophone: 小/晓" in sim.why
    # more characters in common ranks higher
    assert name_similarity("王小明", "王晓明").score > sim.score


def test_typed_pinyin_matches_the_characters():
    for typed in ("wang xiao ming", "Xiaoming Wang", "wangxiaoming"):
        sim = name_similarity("王小明", typed)
        assert sim.verdict == "match" and sim.score >= 0.88, typed
        assert "same reading (wang xiao ming)" in sim.why
    assert name_similarity("曾小明", "zeng xiao ming").verdict == "match"
    assert name_similarity("欧阳明", "ouyang ming").verdict == "match"


def test_dialect_mergers_are_close_matches():
    for a, b, why in (
        ("张伟", "臧伟", "dialect: zh/z"),  # southern zh/z
        ("刘德华", "牛德华", "dialect: n/l"),
        ("黄明", "房明", "dialect: f/h"),
        ("陈晨", "岑晨", "dialect: ch/c"),
        ("王京", "王金", "dialect: -ng/-n"),
        ("张伟", "zang wei", "dialect: zh/z"),
        # issue 29: the mergers as places have them, f- syllables' -ng/-n and h/w too
        ("李峰", "李芬", "dialect: -ng/-n"),
        ("黄明", "王明", "dialect: h/w"),
        ("胡明", "吴明", "dialect: h/w"),
    ):
        sim = name_similarity(a, b)
        assert sim.verdict == "match" and 0.7 <= sim.score < 0.88, (a, b, sim)
        assert why in sim.why, (a, b, sim)
    # 黄/王 merge in Wu dialects: a merger like the others (issue 29), below the
    # same reading
    sim = name_similarity("黄小明", "王小明")
    assert sim.verdict == "match" and "dialect: h/w" in sim.why
    assert sim.score < name_similarity("王小明", "汪晓明").score


def test_one_syllable_off_is_close():
    sim = name_similarity("王小明", "王小兵")
    assert sim.verdict == "close" and 0.4 <= sim.score < 0.7
    assert "one syllable differs" in sim.why
    # a typo in typed pinyin
    assert name_similarity("王小明", "wang xaio ming").verdict == "close"
    # 曾 heard as "ceng": the surname differs, the given name is the same
    sim = name_similarity("曾小明", "ceng xiao ming")
    assert sim.verdict == "close" and "given name only" in sim.why


def test_the_given_name_alone_is_close():
    sim = name_similarity("王小明", "小明")
    assert sim.verdict == "close" and "given name only" in sim.why
    assert name_similarity("xiao ming", "汪小明").verdict == "close"


def test_different_names_mismatch():
    for a, b in (("王小明", "李建国"), ("张伟", "李伟"), ("张伟", "张强"), ("王小明", "不详")):
        sim = name_similarity(a, b)
        assert sim.verdict == "mismatch" and sim.score < 0.4, (a, b, sim)
    # a rare pypinyin reading (明 "meng", 萌 "ming") is no more than close
    assert name_similarity("王小明", "王小萌").verdict == "close"


def test_similarity_is_symmetric_in_its_score():
    pairs = [("王小明", "汪晓明"), ("张伟", "臧伟"), ("王小明", "小明"), ("王小明", "王小兵")]
    for a, b in pairs:
        assert name_similarity(a, b).score == name_similarity(b, a).score


def test_query_keys_reach_near_homophones_and_the_given_name():
    keys = query_keys(name_keys("王小明"))
    assert keys["full"][0] == "wan xiao min"
    assert "wan xiao lin" in keys["near"] and "huan xiao min" in keys["near"]
    assert keys["given"] == ["xiao min", "xiao men"]
    # a two-character query may be a given name alone
    assert "xiao min" in query_keys(name_keys("小明"))["given"]
    assert "xiao" in near_syllables("xaio")
