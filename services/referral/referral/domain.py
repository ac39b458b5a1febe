"""Referral rules (DOMAIN.md, "The life of a case", 5). No I/O here except
reading the rules file once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from types import MappingProxyType

import yaml

from rescue_chassis.refusals import Conflict
from rescue_events.contracts import PartnerAnswerKind, PartnerType, ReferralStatus

S = ReferralStatus

# Who can decide for themselves. A minor's referral is the state's duty of
# guardianship; a person with a mental illness or dementia is presumed unable to
# consent at the station (the hospital and guardian decide).
NOT_PRESUMED_CAPABLE = {"minor", "mental_illness", "dementia"}

# The partner's answers and the staff's steps, as a state machine.
TRANSITIONS = MappingProxyType(
    {
        S.CREATED: {S.AWAITING_CONSENT, S.SENT, S.REVOKED},
        S.AWAITING_CONSENT: {S.SENT, S.REVOKED},
        S.SENT: {S.ACKNOWLEDGED, S.ACCEPTED, S.DECLINED, S.REVOKED},
        S.ACKNOWLEDGED: {S.ACCEPTED, S.DECLINED, S.REVOKED},
        S.ACCEPTED: {S.IN_PROGRESS, S.COMPLETED, S.REVOKED},
        S.IN_PROGRESS: {S.COMPLETED, S.REVOKED},
        S.DECLINED: set(),
        S.COMPLETED: set(),
        S.REVOKED: set(),
    }
)
ANSWER_STATUS = {
    PartnerAnswerKind.ACKNOWLEDGED: S.ACKNOWLEDGED,
    PartnerAnswerKind.ACCEPTED: S.ACCEPTED,
    PartnerAnswerKind.DECLINED: S.DECLINED,
    PartnerAnswerKind.IN_PROGRESS: S.IN_PROGRESS,
    PartnerAnswerKind.COMPLETED: S.COMPLETED,
}
OPEN = {S.CREATED, S.AWAITING_CONSENT, S.SENT, S.ACKNOWLEDGED, S.ACCEPTED, S.IN_PROGRESS}
ESCALATED_TO = "center station (referral coordinator)"


@dataclass(frozen=True)
class ReferralRule:
    reason: str
    partner_type: PartnerType
    mandatory: bool
    consent_required: bool
    by_registered_home: bool


@dataclass(frozen=True)
class Deadlines:
    acknowledge: timedelta
    act: timedelta


@dataclass(frozen=True)
class Rules:
    by_reason: MappingProxyType[str, ReferralRule]
    deadlines: MappingProxyType[PartnerType, Deadlines]

    def for_reasons(self, reasons: Iterable[str]) -> list[ReferralRule]:
        """The mandatory rules a person's categories trigger, in a stable order."""
        return [
            self.by_reason[r]
            for r in dict.fromkeys(reasons)
            if r in self.by_reason and self.by_reason[r].mandatory
        ]


def parse_rules(text: str) -> Rules:
    data = yaml.safe_load(text)
    rules = {}
    for entry in data["rules"]:
        if entry["reason"] in rules:
            raise ValueError(f"rule for {entry['reason']!r} given twice")
        if entry["consent"] not in ("required", "not_required"):
            raise ValueError(f"rule {entry['reason']!r}: consent is required or not_required")
        if entry["jurisdiction"] not in ("registered_home", "station"):
            raise ValueError(
                f"rule {entry['reason']!r}: jurisdiction is registered_home or station"
            )
        rules[entry["reason"]] = ReferralRule(
            reason=entry["reason"],
            partner_type=PartnerType(entry["partner_type"]),
            mandatory=bool(entry["mandatory"]),
            consent_required=entry["consent"] == "required",
            by_registered_home=entry["jurisdiction"] == "registered_home",
        )
    deadlines = {
        PartnerType(partner): Deadlines(
            acknowledge=timedelta(hours=d["acknowledge_hours"]), act=timedelta(days=d["act_days"])
        )
        for partner, d in data["deadlines"].items()
    }
    missing = set(PartnerType) - set(deadlines)
    if missing:
        raise ValueError(f"no deadlines for {sorted(missing)}")
    return Rules(MappingProxyType(rules), MappingProxyType(deadlines))


@cache
def rules() -> Rules:
    return parse_rules(resources.files("referral").joinpath("rules.yaml").read_text("utf-8"))


def consent_needed(rule: ReferralRule, categories: Iterable[str]) -> bool:
    """A capable adult decides; the explicit exceptions are minors and persons
    presumed unable to consent, whose referral goes ahead without it."""
    return rule.consent_required and not (set(categories) & NOT_PRESUMED_CAPABLE)


def check_transition(current: S, new: S) -> None:
    if new not in TRANSITIONS[current]:
        raise Conflict("Not possible now", f"a {current.value} referral cannot become {new.value}")


def choose_agency(agencies: Sequence[tuple[str, str]], *codes: str | None) -> str | None:
    """The agency responsible: ``agencies`` are (agency id, jurisdiction code) of
    the partner type; the first code with an agency wins (the registered home
    first), the most specific jurisdiction (longest code prefix) within it."""
    for code in codes:
        if not code:
            continue
        serving = [(len(j), a) for a, j in agencies if code.startswith(j)]
        if serving:
            return max(serving)[1]
    return None


def acknowledgement_due(sent_at: datetime, deadlines: Deadlines) -> datetime:
    return sent_at + deadlines.acknowledge


def action_due(accepted_at: datetime, deadlines: Deadlines) -> datetime:
    return accepted_at + deadlines.act
