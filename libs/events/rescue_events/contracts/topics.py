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
