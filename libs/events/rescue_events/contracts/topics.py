"""Topics of the network. One topic per producing service: per-person order
holds within it because every person event is keyed by ``person_id``."""

from rescue_events.registry import registry

INTAKE_EVENTS = registry.topic(
    "rescue.intake.events", partitions=6, description="Admissions and the person's stay."
)
SEARCH_EVENTS = registry.topic(
    "rescue.search.events", partitions=6, description="Search cases and identification."
)
TRANSFER_EVENTS = registry.topic(
    "rescue.transfer.events", partitions=6, description="Return escorts and handovers."
)
REFERRAL_EVENTS = registry.topic(
    "rescue.referral.events", partitions=6, description="Referrals to partner agencies."
)
FOLLOWUP_EVENTS = registry.topic(
    "rescue.followup.events", partitions=6, description="Return stabilisation and revisits."
)

# Each partner agency reads its own messages, and only them, on its own topic
# (referral's deliveries, one mechanism for every feed): created by the outbox
# relay at the agency's first message, read with the agency's own login.
AGENCY_TOPIC_PREFIX = "rescue.partner.agency."
AGENCY_TOPIC = AGENCY_TOPIC_PREFIX + "{agency_id}"

# The partner types' contracts, with only what each type needs (contracts/referral.py).
# Their messages reach agencies on the agencies' own topics; these are the network's:
# rescue.partner.police carries search's requests to referral, which delivers them.
PARTNER_TOPICS = {
    partner: registry.topic(
        f"rescue.partner.{partner}",
        partitions=6,
        description=(
            f"Messages for {partner.replace('_', ' ')} agencies, minimal fields, as the "
            f"network writes them (read by referral only); each agency receives its own on "
            f"{AGENCY_TOPIC}."
        ),
    )
    for partner in (
        "womens_federation",
        "minor_protection",
        "police",
        "hospital",
        "civil_affairs",
        "social_organisation",
    )
}
PARTNER_ANSWERS = registry.topic(
    "rescue.partner.answers",
    partitions=6,
    description="Partners' answers to referrals (acknowledged, accepted, declined, done).",
)

# Inbound: another region's stations (or their provincial system) announce a person
# they escort home to this region; followup opens the person's stabilisation here.
# The person has no id of this network yet: keyed by the sender's reference.
INBOUND_RETURNS = registry.topic(
    "rescue.inbound.returns",
    partitions=3,
    key="reference",
    description=(
        "Return notices (返乡通知) from other regions' stations: persons escorted home to "
        "this region."
    ),
)

# The audit trail of every service (rescue_chassis.audit): one hash chain per
# service, keyed by the service's name so each chain stays in order on one
# partition and a central store can verify it as it reads.
AUDIT_EVENTS = registry.topic(
    "rescue.audit",
    partitions=6,
    key="service",
    description=(
        "Who read or wrote which person record, when, from which station and why; "
        "entries of each service's hash chain (field names and record ids, never values)."
    ),
)
