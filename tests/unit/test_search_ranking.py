"""The candidate ranking, field by field (search.ranking, search.matching.compare).

Places are resolved by a small stand-in gazetteer here (the real one is tested in
test_gazetteer.py and end to end); names go through the real homophone matcher."""

import uuid

from search.matching import PersonProfile, ReportProfile, compare, dialect_region
from search.ranking import (
    ResolvedPlace,
    Sides,
    Verdict,
    judge_age,
    judge_face,
    judge_place,
    judge_sex,
    rank,
)

# code → path of a few real divisions
PLACES = {
    "四川省南充市仪陇县": ("511324", ("四川省", "南充市", "仪陇县")),
    "仪陇": ("511324", ("四川省", "南充市", "仪陇县")),
    "南充": ("511300", ("四川省", "南充市")),
    "四川": ("510000", ("四川省",)),
    "河南固始": ("411525", ("河南省", "信阳市", "固始县")),
    "河南": ("410000", ("河南省",)),
    "河南信阳": ("411500", ("河南省", "信阳市")),
    "河南息县": ("411528", ("河南省", "信阳市", "息县")),
    "郑州": ("410100", ("河南省", "郑州市")),
    "南汇县": ("310115", ("上海市", "浦东新区")),  # a former county: resolved to what it became
    "浦东新区": ("310115", ("上海市", "浦东新区")),
    "小河庄": ("130123101201", ("河北省", "石家庄市", "正定县", "某镇", "小河庄村")),
    "正定县": ("130123", ("河北省", "石家庄市", "正定县")),
}


def resolve(text: str) -> tuple[ResolvedPlace, ...]:
    found = PLACES.get(text)
    return (ResolvedPlace(text, found[0], found[1], 0.9),) if found else ()


def person(**kw) -> PersonProfile:
    return PersonProfile(case_id=uuid.uuid4(), **kw)


def report(name="李建国", **kw) -> ReportProfile:
    return ReportProfile(report_id=uuid.uuid4(), name=name, **kw)


def verdicts(ranked) -> dict[str, str]:
    return {f.field: f.verdict.value for f in ranked.findings}


def test_every_field_is_judged_and_explained():
    ranked = compare(
        person(sex="male", age=60, names=["李建国"], places=["仪陇"]),
        report(sex="male", age=62, places=["四川省南充市仪陇县"]),
        resolve,
    )
    assert ranked is not None and ranked.score > 0.6
    assert verdicts(ranked) == {
        "face": "unknown",
        "name": "match",
        "place": "match",
        "age": "match",
        "sex": "match",
    }
    assert "same place" in ranked.finding("place").detail
    assert "no face photo" in ranked.finding("face").detail
    assert set(ranked.signals) == {"name", "place", "age", "sex"}
    assert all(r.startswith(("face:", "name:", "place:", "age:", "sex:")) for r in ranked.reasons)


def test_a_homophone_name_is_close_and_ranks_below_the_same_name():
    same = compare(person(names=["王小明"]), report(name="王小明"), resolve)
    homophone = compare(person(names=["汪晓明"]), report(name="王小明"), resolve)
    assert same is not None and homophone is not None
    assert homophone.finding("name").verdict in (Verdict.MATCH, Verdict.CLOSE)
    assert homophone.score < same.score


def test_a_former_county_meets_what_it_became():
    ranked = compare(person(places=["南汇县"]), report(name="张三", places=["浦东新区"]), resolve)
    assert ranked is not None and ranked.finding("place").verdict is Verdict.MATCH


def test_the_dialect_points_to_a_province():
    assert dialect_region("四川话") == "四川"
    ranked = compare(
        person(names=["李建国"], dialects=["四川话"]), report(places=["仪陇"]), resolve
    )
    assert ranked is not None
    place = ranked.finding("place")
    assert place.verdict is Verdict.CLOSE and "same province" in place.detail


def test_nothing_identifying_meets_means_no_candidate():
    assert compare(person(sex="male", age=60), report(sex="male", age=60), resolve) is None
    # a dialect alone is too weak: every Sichuan speaker against every Sichuan report
    assert (
        compare(person(dialects=["四川话"]), report(name="王五", places=["仪陇"]), resolve) is None
    )
    assert (
        compare(person(names=["赵六"], places=["河南固始"]), report(places=["仪陇"]), resolve)
        is None
    )


# ---- a province alone identifies no one (issue 30) ------------------------------------


def test_a_province_alone_proposes_nothing():
    gushi = report(name="王五", sex="male", age=61, places=["河南固始"])
    # a person saying only "河南" against a family's report from a county in 河南
    assert compare(person(sex="male", age=60, places=["河南"]), gushi, resolve) is None
    # two cities of one province
    assert compare(person(sex="male", age=60, places=["郑州"]), gushi, resolve) is None
    # a dialect points to a province only
    assert compare(person(sex="male", age=60, dialects=["河南话"]), gushi, resolve) is None
    # both saying only the province: still a province
    henan = report(name="王五", sex="male", age=61, places=["河南"])
    assert compare(person(sex="male", age=60, places=["河南"]), henan, resolve) is None


def test_a_city_is_a_lead_on_its_own():
    ranked = compare(
        person(sex="male", age=60, places=["河南信阳"]),
        report(name="王五", sex="male", age=61, places=["河南固始"]),
        resolve,
    )
    assert ranked is not None and ranked.score >= 0.2
    place = ranked.finding("place")
    assert place.identifying and place.verdict is Verdict.CLOSE
    assert place.detail.startswith("same city")
    # two counties of one city too
    ranked = compare(
        person(sex="male", age=60, places=["河南息县"]),
        report(sex="male", age=60, places=["河南固始"]),
        resolve,
    )
    assert ranked is not None and ranked.finding("place").detail.startswith("same city")


def test_a_province_still_counts_in_the_score_when_a_name_meets():
    with_province = compare(
        person(names=["李建国"], places=["河南"]), report(places=["河南固始"]), resolve
    )
    apart = compare(person(names=["李建国"], places=["四川"]), report(places=["河南固始"]), resolve)
    assert with_province is not None and apart is not None
    place = with_province.finding("place")
    assert place.verdict is Verdict.CLOSE and not place.identifying
    assert place.detail.startswith("same province") and place.score == 0.25 * 0.9
    assert "place" in with_province.signals  # shown to the reviewer, as before
    assert with_province.score > apart.score  # the province counts in the score
    # the JSON the review queue shows keeps its shape
    assert set(place.as_json()) == {"field", "verdict", "score", "detail"}


def test_a_city_met_unsurely_is_shown_before_a_surer_province():
    sure = ResolvedPlace("河南", "410000", ("河南省",), 1.0)
    unsure = ResolvedPlace("信阳?", "411500", ("河南省", "信阳市"), 0.5)
    gushi = ResolvedPlace("固始", "411525", ("河南省", "信阳市", "固始县"), 1.0)
    place = judge_place([sure, unsure], [gushi])
    assert place.identifying and place.detail.startswith("same city")
    assert place.score == 0.45 * 0.5  # below the province's 0.25: a city is the lead
    assert not judge_place([sure], [gushi]).identifying


def test_a_different_sex_rules_out_unless_the_face_matches():
    face = [0.1] * 128
    assert compare(person(sex="female", names=["李建国"]), report(sex="male"), resolve) is None
    ranked = compare(
        person(sex="female", names=["李建国"], faces=[face]),
        report(sex="male", faces=[[0.1] * 127 + [0.2]]),
        resolve,
    )
    assert ranked is not None
    assert ranked.finding("sex").verdict is Verdict.MISMATCH
    assert ranked.finding("face").verdict is Verdict.MATCH


def test_a_clear_face_mismatch_outweighs_a_close_name():
    ours, theirs = [0.0] * 128, [0.2] * 128  # distance 2.26: two different people
    assert judge_face([ours], [theirs]).verdict is Verdict.MISMATCH
    with_faces = person(names=["汪晓明"], faces=[ours])
    assert compare(with_faces, report(name="王小明", faces=[theirs]), resolve) is None


def test_an_age_far_off_halves_the_score():
    near = compare(person(names=["李建国"], age=60), report(age=60), resolve)
    far = compare(person(names=["李建国"], age=30), report(age=60), resolve)
    assert near is not None and far is not None
    assert far.finding("age").verdict is Verdict.MISMATCH
    assert far.score < near.score / 2 + 0.01


def test_a_name_heard_in_the_clues_is_close():
    ranked = compare(person(texts=["问起家人,说哥哥叫李建国"]), report(), resolve)
    assert ranked is not None and ranked.finding("name").verdict is Verdict.CLOSE
    assert "appears in the clues" in ranked.finding("name").detail


def test_field_judgements():
    assert judge_age(None, 60).verdict is Verdict.UNKNOWN
    assert judge_age(64, 60).verdict is Verdict.CLOSE
    assert judge_sex("unknown", "male").verdict is Verdict.UNKNOWN
    assert judge_sex("female", "male").verdict is Verdict.MISMATCH
    village = ResolvedPlace("小河庄", "130123101201", ("河北省",), 1.0)
    county = ResolvedPlace("正定县", "130123", ("河北省",), 1.0)
    assert judge_place([village], [county]).detail.startswith("same county")
    assert judge_place([], [county]).verdict is Verdict.UNKNOWN
    assert rank(Sides(wanted_name="李建国")) is None
