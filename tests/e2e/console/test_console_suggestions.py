"""Suggestions while typing on the admission form (issue 26) in Chromium against the
real network: search's gazetteer behind the console's /suggest routes, an ARIA
combobox chosen with the keyboard, axe-core on the open listbox."""

from __future__ import annotations

import re

import pytest
from console_browser import serious_violations
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PERSON_URL = re.compile(r"/persons/[0-9a-f-]{36}$")


def choose_with_keys(page, field, option) -> None:
    """Arrow down to ``option`` (the field's listbox open), then Enter."""
    listbox = page.locator(f"#{field.get_attribute('aria-controls')}")
    ids = listbox.locator("[role=option]:not([aria-disabled=true])").evaluate_all(
        "options => options.map(o => o.id)"
    )
    target = option.get_attribute("id")
    for _ in range(ids.index(target) + 1):
        field.press("ArrowDown")
    expect(field).to_have_attribute("aria-activedescendant", target)
    expect(option).to_have_attribute("aria-selected", "true")
    field.press("Enter")


def test_a_homophone_and_a_former_place_in_pinyin_are_chosen_with_the_keyboard(desk, axe_source):
    page = desk.page
    desk.sign_in("gushi")
    desk.goto("/admissions/new")
    page.get_by_label("自愿求助").check()
    page.get_by_label("男", exact=True).check()

    # The home as said, in pinyin: a city renamed in 2010 is offered as what it is now part of.
    places = page.get_by_role("combobox", name="自述地名")
    places.click()
    places.fill("固始、xiang fan")  # one input event: one request, no stale list
    former = page.locator("#lb-stated_places [role=option]", has_text="襄樊市")
    expect(former).to_be_visible()
    expect(former).to_contain_text("现属 湖北省襄阳市")
    expect(places).to_have_attribute("aria-expanded", "true")
    assert serious_violations(page, axe_source) == []
    choose_with_keys(page, places, former)
    expect(places).to_have_value("固始、湖北省襄樊市")  # only the item being typed replaced
    expect(places).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#lb-stated_places")).to_be_hidden()
    assert page.url.endswith("/admissions/new")  # Enter chose; it did not submit

    # The registered home with a homophone (故 for 固): choosing fills the code too.
    home = page.get_by_role("combobox", name="户籍地")
    home.click()
    home.fill("故始县")
    gushi = page.locator("#lb-registered_home [role=option][data-code='411525']")
    expect(gushi).to_contain_text("固始县")
    choose_with_keys(page, home, gushi)
    expect(home).to_have_value("河南省信阳市固始县")
    expect(page.get_by_label("户籍地区划代码")).to_have_value("411525")

    # What was chosen is what the form sends.
    page.get_by_role("button", name="提交登记").click()
    page.wait_for_url(PERSON_URL)
    expect(page.locator("dl.record")).to_contain_text("固始、湖北省襄樊市")


def test_the_found_place_is_suggested_around_the_station_and_escape_closes(desk):
    page = desk.page
    desk.sign_in("gushi")
    desk.goto("/admissions/new")
    page.get_by_label("街面巡查护送").check()
    found = page.get_by_role("combobox", name="发现地点")
    found.click()
    found.fill("chen ji")
    options = page.locator("#lb-handover-found_place [role=option]")
    town = options.and_(page.locator("[data-value='河南省信阳市固始县陈集镇']"))
    expect(town).to_contain_text("陈集镇")
    # The station's own county first (陈集 is also a town in other counties of Henan).
    expect(options.first).to_have_attribute("data-value", re.compile("^河南省信阳市固始县"))
    found.press("Escape")
    expect(found).to_have_attribute("aria-expanded", "false")
    expect(found).to_have_value("chen ji")  # closing keeps what was typed
    found.press("ArrowDown")  # reopens on the options already found
    expect(found).to_have_attribute("aria-expanded", "true")
    town.click()
    expect(found).to_have_value("河南省信阳市固始县陈集镇")
