"""Rules of identification evidence (DOMAIN.md, "The life of a case", 2). No I/O.

- the citizen identity number (公民身份号码, GB 11643-1999): 18 characters, the
  last a check character computed over the first 17 (ISO 7064 MOD 11-2);
- administrative division codes (GB/T 2260): 6 digits (county), 9 (town) or 12
  (village), starting with a province that exists;
- when the evidence for an identity is enough;
- ages of missing-person reports, for matching them against admitted persons.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

# ---- GB 11643: the citizen identity number -----------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")


def national_id_check_character(first17: str) -> str:
    """The check character of an identity number from its first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("the first 17 characters must be digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def national_id_problem(number: str, *, today: date | None = None) -> str | None:
    """Why ``number`` is not a valid identity number, or None when it is.
    (A lower-case x is accepted as the check character; normalise first.)"""
    number = normalise_national_id(number)
    if len(number) != 18:
        return "must be 18 characters"
    if not _ID_SHAPE.match(number):
        return "must be 17 digits followed by a digit or X"
    if admin_code_problem(number[:6]) is not None:
        return "does not start with a valid administrative division code"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "does not contain a valid date of birth"
    if born > (today or date.today()) or born.year < 1900:
        return "does not contain a plausible date of birth"
    if national_id_check_character(number[:17]) != number[17]:
        return "fails the GB 11643 check character"
    return None


def normalise_national_id(number: str) -> str:
    return number.strip().upper()


def mask_national_id(number: str) -> str:
    """For lists and logs: the region and the check character only."""
    return number[:6] + "*" * 11 + number[-1:]


# ---- GB/T 2260: administrative division codes ---------------------------------

# Provinces, autonomous regions and municipalities; 71 Taiwan, 81 Hong Kong, 82 Macao.
PROVINCE_CODES = frozenset(
    {
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
    }
)
_ADMIN_SHAPE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")


def admin_code_problem(code: str) -> str | None:
    """Why ``code`` is not a GB/T 2260 code (with town/village extension), or None."""
    if not _ADMIN_SHAPE.match(code):
        return "must be 6, 9 or 12 digits"
    if int(code[:2]) not in PROVINCE_CODES:
        return f"starts with {code[:2]}, which is no province (11-65, 71, 81, 82)"
    return None


# ---- evidence of an identity ----------------------------------------------------


class EvidenceKind(StrEnum):
    # the person said who they are and it was checked (village committee, family call)
    SELF_REPORT_VERIFIED = "self_report_verified"
    # the police answered an identity check (face recognition, population database)
    POLICE_CHECK = "police_check"
    # a DNA hit in the anti-trafficking database, re-verified with a fresh sample
    DNA_REVERIFIED = "dna_reverified"
    # a face match that the family confirmed
    FACE_MATCH_WITH_FAMILY_CONFIRMATION = "face_match_with_family_confirmation"


# The method named on `identity_confirmed` (IdentificationMethod's values), by the
# strongest evidence given.
METHOD_BY_KIND = {
    EvidenceKind.DNA_REVERIFIED: "dna",
    EvidenceKind.POLICE_CHECK: "police_check",
    EvidenceKind.FACE_MATCH_WITH_FAMILY_CONFIRMATION: "face_comparison",
    EvidenceKind.SELF_REPORT_VERIFIED: "self_reported",
}
STRENGTH = list(METHOD_BY_KIND)  # strongest first


@dataclass(frozen=True)
class EvidenceClaim:
    kind: EvidenceKind
    reference: str | None = None  # police answer or DNA laboratory reference
    note: str | None = None  # how a self-report was verified; the family's confirmation


@dataclass(frozen=True)
class Refusal:
    status: int  # 422: the request is wrong; 409: the case is not ready for it
    field: str
    reason: str


def evidence_refusal(claims: Sequence[EvidenceClaim], *, dna_reverified: bool) -> Refusal | None:
    """Why the evidence does not confirm an identity, or None when it does.

    ``dna_reverified``: whether the case's DNA hit was re-verified with a fresh
    sample (a DNA hit is not trusted before)."""
    if not claims:
        return Refusal(422, "evidence", "at least one piece of evidence is needed")
    seen: set[EvidenceKind] = set()
    for i, claim in enumerate(claims):
        if claim.kind in seen:
            return Refusal(422, f"evidence.{i}.kind", f"{claim.kind.value} is given twice")
        seen.add(claim.kind)
        if claim.kind is EvidenceKind.POLICE_CHECK and not (claim.reference or "").strip():
            return Refusal(422, f"evidence.{i}.reference", "name the police answer")
        if claim.kind is EvidenceKind.SELF_REPORT_VERIFIED and not (claim.note or "").strip():
            return Refusal(422, f"evidence.{i}.note", "say how the self-report was verified")
        if (
            claim.kind is EvidenceKind.FACE_MATCH_WITH_FAMILY_CONFIRMATION
            and not (claim.note or "").strip()
        ):
            return Refusal(
                422, f"evidence.{i}.note", "a face match needs the family's confirmation note"
            )
        if claim.kind is EvidenceKind.DNA_REVERIFIED and not dna_reverified:
            return Refusal(
                409,
                f"evidence.{i}.kind",
                "a DNA hit is not trusted until it is re-verified with a fresh sample; "
                "no re-verified DNA hit is recorded for this case",
            )
    return None


def strongest(kinds: Sequence[EvidenceKind]) -> EvidenceKind:
    return min(kinds, key=STRENGTH.index)


# ---- missing-person reports -------------------------------------------------------


def age_now(
    *, age_at_report: int | None, birth_year: int | None, reported_at: datetime, now: datetime
) -> int | None:
    """The reported person's age today, from a birth year or the age given then."""
    if birth_year is not None:
        return now.year - birth_year
    if age_at_report is not None:
        return age_at_report + max(0, now.year - reported_at.year)
    return None


# ---- figures ---------------------------------------------------------------------


def median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
