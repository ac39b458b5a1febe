"""What each partner type is told: the contract of its feed decides which of the
person's details leave the network (contracts/referral.py)."""

from __future__ import annotations

from datetime import datetime

from referral.tables import Person, Referral
from rescue_chassis.network import Network
from rescue_events.contracts import PARTNER_FEEDS, PartnerReferral, PartnerType

DV = "domestic_violence_victim"


def contact_station(network: Network, person: Person, partner: PartnerType) -> str:
    """Where the person is. A domestic-violence victim's whereabouts go to the
    women's federation only; every other partner is pointed to the center."""
    if DV in person.categories and partner is not PartnerType.WOMENS_FEDERATION:
        return network.center.id
    return person.station_id


def partner_feed(
    network: Network, referral: Referral, person: Person, sent_at: datetime
) -> PartnerReferral:
    partner = PartnerType(referral.partner_type)
    contract = PARTNER_FEEDS[partner]
    offered = {
        "person_id": referral.person_id,
        "referral_id": referral.id,
        "agency_id": referral.agency_id,
        "reason": referral.reason,
        "mandatory": referral.mandatory,
        "sent_at": sent_at,
        "acknowledge_by": referral.acknowledge_by,
        "contact_station_id": contact_station(network, person, partner),
        "full_name": person.full_name,
        "sex": person.sex,
        "estimated_age": person.estimated_age,
        "registered_home_admin_code": person.registered_home_admin_code,
        "consent_recorded": referral.consent in ("given", "override"),
    }
    return contract(**{k: v for k, v in offered.items() if k in contract.model_fields})
