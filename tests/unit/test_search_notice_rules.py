"""Rules of family-search notices (search.notices): who may appear in a public
notice, which regions a push goes to, what a notice may say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from search.notices import (
    RegionBasis,
    accent_region,
    marker_in,
    protection,
    public_description,
    select_regions,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_an_ordinary_person_may_appear_in_a_notice():
    decision = protection(["elderly", "dementia"], endangered_at=None, override_at=None)
    assert not decision.protected
    assert decision.public_notice_allowed


def test_a_dv_victim_gets_no_public_notice_without_an_override():
    decision = protection(["domestic_violence_victim"], endangered_at=None, override_at=None)
    assert decision.protected and decision.reasons == ("domestic_violence_victim",)
    assert not decision.public_notice_allowed
    overridden = protection(["domestic_violence_victim"], endangered_at=None, override_at=T0)
    assert overridden.overridden and overridden.public_notice_allowed


def test_an_endangered_mark_needs_an_override_given_after_it():
    assert not protection([], endangered_at=T0, override_at=None).public_notice_allowed
    old_override = protection([], endangered_at=T0, override_at=T0 - timedelta(days=1))
    assert not old_override.public_notice_allowed
    assert protection([], endangered_at=T0, override_at=T0 + timedelta(1)).public_notice_allowed
    both = protection(["domestic_violence_victim"], endangered_at=T0, override_at=None)
    assert both.reasons == ("domestic_violence_victim", "endangered")


def test_an_override_alone_does_not_make_anyone_protected():
    decision = protection([], endangered_at=None, override_at=T0)
    assert not decision.protected and not decision.overridden


@pytest.mark.parametrize(
    ("dialect", "province"),
    [
        ("四川话", "四川省"),
        ("河南口音", "河南省"),
        ("豫东口音", "河南省"),
        ("湘西话", "湖南省"),
        ("粤语", "广东省"),
        ("闽南话", "福建省"),
        ("东北话", "辽宁省"),
        ("内蒙古口音", "内蒙古自治区"),
        ("普通话", None),
        (None, None),
    ],
)
def test_the_accent_points_to_a_province(dialect, province):
    assert accent_region(dialect) == province


def test_regions_are_where_found_the_accent_and_the_claimed_home_each_once():
    regions = select_regions("信阳市", "四川话", "四川省、南充市营山县")
    assert [(r.basis, r.region) for r in regions] == [
        (RegionBasis.FOUND, "信阳市"),
        (RegionBasis.ACCENT, "四川省"),
        (RegionBasis.CLAIMED_HOME, "南充市营山县"),
    ]


def test_no_known_place_means_no_region():
    assert select_regions(None, None, None) == []
    assert [r.region for r in select_regions(None, "普通话", ["", " 王家沟 "])] == ["王家沟"]


def test_free_text_marking_a_protected_status_is_found():
    assert marker_in("灰色外套,自述遭家暴") == "家暴"
    assert marker_in("fled domestic violence") == "domestic"
    assert marker_in("身高约170厘米") is None
    assert marker_in(None) is None


def test_the_public_description_carries_no_categories():
    description = public_description(
        sex="female",
        estimated_age=35,
        found_place="信阳市",
        arrived_at=T0,
        stated_names="李梅、梅子",
        stated_places="湖北省",
        dialect="湖北话",
        appearance=None,
    )
    assert description["stated_names"] == ["李梅", "梅子"]
    assert description["arrived_on"] == "2026-03-01"
    assert set(description) == {
        "sex",
        "estimated_age",
        "found_place",
        "arrived_on",
        "stated_names",
        "stated_places",
        "dialect",
        "appearance",
    }
