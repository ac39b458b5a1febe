"""Search's evidence rules: national ID checksum, administrative codes, when
evidence confirms an identity."""

from datetime import UTC, date, datetime

import pytest

from rescue_divisions.national_id import (
    admin_code_problem,
    mask_national_id,
    national_id_check_character,
    national_id_problem,
)
from search.evidence import (
    EvidenceClaim,
    EvidenceKind,
    age_now,
    evidence_refusal,
    median,
    strongest,
)

TODAY = date(2026, 11, 23)


def valid_id(first17: str) -> str:
    return first17 + national_id_check_character(first17)


# ---- GB 11643 -------------------------------------------------------------------


def test_the_check_character_of_the_standards_example():
    # the example of GB 11643-1999 itself
    assert national_id_check_character("11010519491231002") == "X"
    assert national_id_problem("11010519491231002X", today=TODAY) is None
    assert national_id_problem("11010519491231002x", today=TODAY) is None  # lower-case x


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("1101051949123100", "must be 18 characters"),
        ("110105194912310021", "fails the GB 11643 check character"),
        ("11010519491231002A", "must be 17 digits followed by a digit or X"),
        (valid_id("99010519491231002"), "does not start with a valid administrative division"),
        (valid_id("11010519491331002"), "does not contain a valid date of birth"),
        (valid_id("11010520301231002"), "does not contain a plausible date of birth"),
    ],
)
def test_invalid_identity_numbers_say_why(number, reason):
    assert national_id_problem(number, today=TODAY).startswith(reason)


def test_every_check_character_is_accepted_when_computed():
    for serial in range(100, 200):
        number = valid_id(f"511324196405{serial % 28 + 1:02d}{serial}")
        assert national_id_problem(number, today=TODAY) is None, number


def test_masking_keeps_region_and_check_character():
    assert mask_national_id("11010519491231002X") == "110105***********X"


# ---- GB/T 2260 ------------------------------------------------------------------


@pytest.mark.parametrize("code", ["511324", "511324101", "511324101001", "710000", "820000"])
def test_admin_codes_of_6_9_or_12_digits_with_a_province(code):
    assert admin_code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("51132", "must be 6, 9 or 12 digits"),
        ("5113241", "must be 6, 9 or 12 digits"),
        ("51132A", "must be 6, 9 or 12 digits"),
        ("991324", "starts with 99"),
        ("161324", "starts with 16"),  # between Inner Mongolia (15) and Liaoning (21)
        ("661324", "starts with 66"),
        ("001324", "starts with 00"),
    ],
)
def test_admin_codes_without_a_province_are_refused(code, reason):
    assert admin_code_problem(code).startswith(reason)


# ---- evidence -------------------------------------------------------------------


def test_a_police_answer_is_enough():
    claims = [EvidenceClaim(EvidenceKind.POLICE_CHECK, reference="固公核查1123")]
    assert evidence_refusal(claims, dna_reverified=False) is None


def test_no_evidence_is_not_enough():
    refusal = evidence_refusal([], dna_reverified=False)
    assert (refusal.status, refusal.field) == (422, "evidence")


def test_a_dna_hit_counts_only_once_re_verified():
    claims = [EvidenceClaim(EvidenceKind.DNA_REVERIFIED, reference="DNA-1")]
    refusal = evidence_refusal(claims, dna_reverified=False)
    assert refusal.status == 409 and "re-verified" in refusal.reason
    assert evidence_refusal(claims, dna_reverified=True) is None


def test_a_dna_claim_not_re_verified_is_refused_even_beside_other_evidence():
    claims = [
        EvidenceClaim(EvidenceKind.POLICE_CHECK, reference="R-1"),
        EvidenceClaim(EvidenceKind.DNA_REVERIFIED),
    ]
    assert evidence_refusal(claims, dna_reverified=False).field == "evidence.1.kind"


def test_a_face_match_needs_the_familys_confirmation():
    bare = [EvidenceClaim(EvidenceKind.FACE_MATCH_WITH_FAMILY_CONFIRMATION)]
    assert evidence_refusal(bare, dna_reverified=False).field == "evidence.0.note"
    confirmed = [EvidenceClaim(EvidenceKind.FACE_MATCH_WITH_FAMILY_CONFIRMATION, note="女儿确认")]
    assert evidence_refusal(confirmed, dna_reverified=False) is None


def test_a_self_report_needs_its_verification_and_police_a_reference():
    assert evidence_refusal(
        [EvidenceClaim(EvidenceKind.SELF_REPORT_VERIFIED)], dna_reverified=False
    ).field == ("evidence.0.note")
    assert evidence_refusal(
        [EvidenceClaim(EvidenceKind.POLICE_CHECK, reference=" ")], dna_reverified=False
    ).field == ("evidence.0.reference")


def test_the_same_kind_twice_is_refused():
    claims = [EvidenceClaim(EvidenceKind.POLICE_CHECK, reference="a")] * 2
    assert evidence_refusal(claims, dna_reverified=False).field == "evidence.1.kind"


def test_the_strongest_evidence_names_the_method():
    kinds = [EvidenceKind.SELF_REPORT_VERIFIED, EvidenceKind.DNA_REVERIFIED]
    assert strongest(kinds) is EvidenceKind.DNA_REVERIFIED
    assert strongest([EvidenceKind.SELF_REPORT_VERIFIED, EvidenceKind.POLICE_CHECK]) is (
        EvidenceKind.POLICE_CHECK
    )


def test_a_reported_age_grows_with_the_years():
    reported = datetime(2024, 5, 1, tzinfo=UTC)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert age_now(age_at_report=60, birth_year=None, reported_at=reported, now=now) == 62
    assert age_now(age_at_report=60, birth_year=1964, reported_at=reported, now=now) == 62
    assert age_now(age_at_report=None, birth_year=None, reported_at=reported, now=now) is None


def test_median():
    assert median([]) is None
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
