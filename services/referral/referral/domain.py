"""Referral rules (DOMAIN.md, "The life of a case", 5): data, not code branches."""

from __future__ import annotations

from types import MappingProxyType

from rescue_events.contracts import PartnerType, PersonCategory

# Which partner a category is referred to. Mandatory hand-offs only; services
# such as job or housing help are referred by staff decision.
REFERRAL_RULES = MappingProxyType(
    {
        PersonCategory.DOMESTIC_VIOLENCE_VICTIM: PartnerType.WOMENS_FEDERATION,
        PersonCategory.MINOR: PartnerType.MINOR_PROTECTION,
        PersonCategory.SUSPECTED_TRAFFICKING: PartnerType.POLICE,
        PersonCategory.COERCED_BEGGING: PartnerType.POLICE,
        PersonCategory.MENTAL_ILLNESS: PartnerType.HOSPITAL,
    }
)


def referrals_for(categories: list[PersonCategory]) -> list[tuple[PersonCategory, PartnerType]]:
    return [(c, REFERRAL_RULES[c]) for c in dict.fromkeys(categories) if c in REFERRAL_RULES]
