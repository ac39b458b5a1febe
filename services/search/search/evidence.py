"""Rules of identification evidence (DOMAIN.md, "The life of a case", 2). No I/O.

(The citizen identity number, GB 11643, and administrative division codes,
GB/T 2260, are every service's: ``rescue_divisions``.)

- when the evidence for an identity is enough;
- ages of missing-person reports, for matching them against admitted persons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

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
