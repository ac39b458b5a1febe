"""Administrative division codes and identity numbers (rescue_divisions), on the
real gazetteer data that `make setup` puts into var/gazetteer (issue 22)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from rescue_divisions import Level, default_dir, load_division_codes
from rescue_divisions.codes import CACHE_FILE
from rescue_divisions.fetch import CHANGES_FILE, DIVISION_FILES
from rescue_divisions.fields import (
    HomeAdminCode,
    JurisdictionPrefix,
    NationalIdNumber,
    home_in_province,
)
from rescue_divisions.national_id import national_id_problem, normalise_national_id


@pytest.fixture(scope="module")
def codes():
    return load_division_codes()


# ---- which codes exist ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level", "province"),
    [
        ("411502", Level.COUNTY, "河南省"),  # 信阳市浉河区
        ("411525", Level.COUNTY, "河南省"),  # 固始县
        ("511324", Level.COUNTY, "四川省"),  # 仪陇县
        ("441900", Level.COUNTY, "广东省"),  # 东莞市: a city with towns, no counties
        ("411525001", Level.TOWN, "河南省"),  # 蓼城街道
        ("110101001001", Level.VILLAGE, "北京市"),
        ("411500", Level.CITY, "河南省"),
        ("510000", Level.PROVINCE, "四川省"),
    ],
)
def test_current_codes_are_found_with_their_level_and_province(codes, code, level, province):
    found = codes.find(code)
    assert (found.level, found.current, found.former) == (level, code, False)
    assert codes.resolve(code) == code
    assert codes.province_of(code) == province


@pytest.mark.parametrize(
    ("former", "current", "province"),
    [
        ("512201", "500101", "重庆市"),  # 万县市 (Sichuan until 1997) → 万州区, Chongqing
        ("320802", "320812", "江苏省"),  # 淮安市清河区 → 清江浦区 (2016)
        ("469003", "460400", "海南省"),  # 儋州市 (county level) → 儋州市 (city, 2015)
        ("110103", "110101", "北京市"),  # 崇文区 → 东城区 (2010)
    ],
)
def test_a_former_code_resolves_to_the_current_one(codes, former, current, province):
    assert codes.resolve(former) == current
    assert codes.find(former).former
    assert codes.province_of(former) == province
    assert codes.home_problem(former) is None  # a home may be given by its former code


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("519999", "519999 is not a current or former administrative division code"),
        ("510104999", "510104999 is not a current or former administrative division code"),
        ("000000", "000000 is not a current or former administrative division code"),
        ("510000", "510000 is 四川省 (a province): a home needs the code of its county"),
        ("411500", "411500 is 信阳市 (a city): a home needs the code of its county"),
        ("110101001999", "110101001999 is not a current or former"),
    ],
)
def test_codes_that_name_no_home_are_refused_saying_why(codes, code, reason):
    assert codes.resolve(code) is None or codes.find(code).level <= Level.CITY
    assert codes.home_problem(code).startswith(reason)


def test_hong_kong_has_no_counties_so_its_province_code_is_a_home(codes):
    assert codes.home_problem("810000") is None
    assert codes.province_of("810000") == "香港特别行政区"


def test_counties_set_up_after_the_snapshot_are_current(codes):
    # 和康县, 2024 (quhua's events; china-division is of 2023-06-30)
    assert codes.resolve("653228") == "653228"


@pytest.mark.parametrize(
    ("code", "province", "reason"),
    [
        ("411502", "四川省", "411502 is in 河南省, not in home_province 四川省"),
        ("411525", "四川", "411525 is in 河南省, not in home_province 四川"),
        ("511324", "广西壮族自治区", "511324 is in 四川省, not in home_province 广西壮族自治区"),
    ],
)
def test_a_code_in_another_province_than_the_one_named_is_refused(codes, code, province, reason):
    assert codes.province_problem(code, province, field="home_province") == reason


@pytest.mark.parametrize(
    ("code", "province"),
    [
        ("411502", "河南省"),
        ("411502", "河南"),
        ("411502", " 河南省 "),
        ("450102", "广西"),
        ("450102", "广西壮族自治区"),
        ("512201", "重庆市"),  # a former code: where it is now
        ("512201", "四川省"),  # … and where it was
        ("411502", "Henan"),  # not recognised as a province: not judged
    ],
)
def test_a_code_in_the_province_named_agrees(codes, code, province):
    assert codes.province_problem(code, province) is None


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("41", None),
        ("4115", None),
        ("411502", None),
        ("411525001", None),
        ("411500", "411500 is 信阳市 (a city): the prefix its divisions share is 4115"),
        ("410000", "410000 is 河南省 (a province): the prefix its divisions share is 41"),
        ("5199", "5199 is not the code of a current city"),
        ("99", "99 is not the code of a current province"),
        ("512201", "512201 is a former code, now 500101: give the current code"),
        ("519999", "519999 is not a current administrative division code"),
    ],
)
def test_agency_jurisdictions_are_current_divisions(codes, prefix, reason):
    assert codes.jurisdiction_problem(prefix) == reason


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("411500", None),
        ("411525", None),
        ("410000", "410000 is 河南省 (a province): a station serves a city or county"),
        ("519999", "519999 is not a current or former administrative division code"),
    ],
)
def test_station_areas_are_current_cities_or_counties(codes, code, reason):
    assert codes.station_problem(code) == reason


# ---- compact, and quick to load -----------------------------------------------------


def test_the_codes_fit_in_a_few_megabytes(codes):
    assert len(codes) > 650_000  # provinces … villages
    assert codes.nbytes < 2_500_000  # 2 to 4 bytes a code, no object per code


def test_the_cache_is_written_once_and_loads_in_milliseconds(tmp_path):
    source = default_dir()
    for name in (*DIVISION_FILES, CHANGES_FILE):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(source / name, tmp_path / name)
    built = load_division_codes(tmp_path)  # from the sources; writes the cache
    assert (tmp_path / CACHE_FILE).is_file()
    started = time.perf_counter()
    cached = load_division_codes(tmp_path)
    assert time.perf_counter() - started < 0.5
    for code in ("411502", "512201", "110101001001", "510104999", "519999"):
        assert cached.find(code) == built.find(code)


def test_a_cache_of_other_sources_is_rebuilt(tmp_path):
    source = default_dir()
    for name in (*DIVISION_FILES, CHANGES_FILE):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(source / name, tmp_path / name)
    (tmp_path / CACHE_FILE).write_bytes(b'{"key": {"format": "0"}}\n')
    assert load_division_codes(tmp_path).resolve("411502") == "411502"
    assert Path(tmp_path / CACHE_FILE).stat().st_size > 1_000_000


def test_the_cache_alone_is_enough(tmp_path):
    # what the images of intake, transfer and referral ship (deploy/docker)
    load_division_codes()  # the cache of var/gazetteer, built if it was not yet
    (tmp_path / CACHE_FILE).write_bytes((default_dir() / CACHE_FILE).read_bytes())
    assert load_division_codes(tmp_path).resolve("512201") == "500101"


def test_without_data_the_error_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make setup"):
        load_division_codes(tmp_path)


# ---- request fields: normalised, then checked ---------------------------------------


class Home(BaseModel):
    national_id_number: NationalIdNumber | None = None
    home_province: str = "河南省"
    home_admin_code: HomeAdminCode | None = None

    _agrees = field_validator("home_admin_code")(home_in_province("home_province"))


class Agency(BaseModel):
    jurisdiction_code: JurisdictionPrefix


def refusal(model, **fields) -> tuple[str, str]:
    with pytest.raises(ValidationError) as raised:
        model(**fields)
    error = raised.value.errors()[0]
    return ".".join(map(str, error["loc"])), error["msg"]


@pytest.mark.parametrize("typed", ["４１１５０２", " 411502", "411 502", "４１１５０２\u3000"])
def test_a_typed_code_is_read_as_its_digits(typed):
    assert Home(home_admin_code=typed).home_admin_code == "411502"


def test_a_nonexistent_code_is_refused_naming_the_field():
    assert refusal(Home, home_admin_code="519999") == (
        "home_admin_code",
        "519999 is not a current or former administrative division code",
    )
    assert refusal(Home, home_admin_code="51999")[0] == "home_admin_code"


def test_a_former_code_is_kept_as_given():
    assert Home(home_province="重庆市", home_admin_code="512201").home_admin_code == "512201"


def test_a_code_of_another_province_is_refused_naming_both_fields():
    field, reason = refusal(Home, home_province="四川省", home_admin_code="411525")
    assert field == "home_admin_code"
    assert reason == "411525 is in 河南省, not in home_province 四川省"


def test_an_agency_jurisdiction_must_be_a_current_prefix():
    assert Agency(jurisdiction_code="４１１５").jurisdiction_code == "4115"
    assert refusal(Agency, jurisdiction_code="411500") == (
        "jurisdiction_code",
        "411500 is 信阳市 (a city): the prefix its divisions share is 4115",
    )


@pytest.mark.parametrize(
    "typed",
    [
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits and X
        "１１０１０５１９４９１２３１００２ｘ",
        "11010519491231002x",
        "110105 19491231 002X",
        " 11010519491231002X\n",
    ],
)
def test_a_typed_identity_number_is_normalised_before_the_check(typed):
    assert normalise_national_id(typed) == "11010519491231002X"
    assert national_id_problem(typed) is None
    assert Home(national_id_number=typed).national_id_number == "11010519491231002X"


def test_an_identity_number_failing_its_check_character_is_refused():
    assert refusal(Home, national_id_number="１１０１０５１９４９１２３１００２１") == (
        "national_id_number",
        "fails the GB 11643 check character",
    )
