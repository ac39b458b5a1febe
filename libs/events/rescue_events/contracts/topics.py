"""Topics of the network. A producing service writes several topics, each read
by the services that handle every event type on it (its description names
them): a consumer receives only what it handles. Per-person order holds within
a topic because every person event is keyed by ``person_id``; events a consumer
applies in order travel on the same topic (rescue.intake.stays for search).

Events no service reads go to a service's ``records`` topic, for the audience
its registration declares. The topics of the first layout (one per producing
service) are registered as retired, with their successors: what the outbox
staged before the move still arrives there and consumers drain it first."""

from rescue_events.registry import registry

# Low-volume topics: fewer partitions for the broker to serve and consumers to poll.
_FEW = 3
_RECORD = (
    "the record: no service of the network reads these; kept on the broker (7 days) for "
    "readers given access outside the network (provincial and national systems, auditors)"
)

INTAKE_STAYS = registry.topic(
    "rescue.intake.stays",
    partitions=6,
    description=(
        "Admissions and what search applies in order after them: hospital placements, long "
        "stays, discharges, burials, face photos shared for search. Read by search (all, "
        "in order), summary, transfer, referral and followup (person_admitted)."
    ),
    carried=(
        "hospital_placement_made",
        "long_stay_reached",
        "long_hospital_stay_reached",
        "person_discharged",
        "burial_recorded",
        "photo_shared_for_search",
    ),
)
INTAKE_REFUSALS = registry.topic(
    "rescue.intake.refusals",
    partitions=_FEW,
    description="Face photos of persons who refused help, for recognition. Read by search.",
)
INTAKE_INCIDENTS = registry.topic(
    "rescue.intake.incidents",
    partitions=_FEW,
    description="Incidents at a station (bureau reports). Read by referral and summary.",
)
INTAKE_COUNTED = registry.topic(
    "rescue.intake.counted",
    partitions=_FEW,
    description=("Refusals of help, leads, outsourced care and settlement steps. Read by summary."),
)
INTAKE_RECORDS = registry.topic(
    "rescue.intake.records",
    partitions=_FEW,
    description="The stay's record: belongings, health checks, photos, lead triage.",
    audience=_RECORD,
)

SEARCH_IDENTITY = registry.topic(
    "rescue.search.identity",
    partitions=6,
    description=("Confirmed identities. Read by intake, transfer, referral, followup and summary."),
)
SEARCH_EARLIER_STAYS = registry.topic(
    "rescue.search.earlier_stays",
    partitions=_FEW,
    description="Earlier stays recognised (repeat wandering). Read by followup.",
)
SEARCH_REFUSAL_FACES = registry.topic(
    "rescue.search.refusal_faces",
    partitions=_FEW,
    description="Candidates recognised for a refusal's face photo. Read by intake.",
)
SEARCH_ESCALATIONS = registry.topic(
    "rescue.search.escalations",
    partitions=_FEW,
    description="Deadlines escalated to the civil-affairs bureau. Read by referral.",
)
SEARCH_COUNTED = registry.topic(
    "rescue.search.counted",
    partitions=_FEW,
    description="Search cases opened, notices published, DNA hits reverified. Read by summary.",
)
SEARCH_RECORDS = registry.topic(
    "rescue.search.records",
    partitions=_FEW,
    description=(
        "The search's record: clues, candidates, DNA results, notices, police checks, moves."
    ),
    audience=_RECORD,
)

TRANSFER_HANDOVERS = registry.topic(
    "rescue.transfer.handovers",
    partitions=_FEW,
    description="Persons handed over at home. Read by intake, followup and summary.",
)
TRANSFER_REFUSALS = registry.topic(
    "rescue.transfer.refusals",
    partitions=_FEW,
    description="Handovers refused (escalated to the bureau). Read by referral and summary.",
)
TRANSFER_NOTICES = registry.topic(
    "rescue.transfer.notices",
    partitions=_FEW,
    description="Return notices to the home region's station. Read by referral.",
)
TRANSFER_COUNTED = registry.topic(
    "rescue.transfer.counted",
    partitions=_FEW,
    description="Returns opened, escorts planned and departed. Read by summary.",
)
TRANSFER_RECORDS = registry.topic(
    "rescue.transfer.records",
    partitions=_FEW,
    description="The return's record: escort legs, escalations resolved.",
    audience=_RECORD,
)

REFERRAL_COUNTED = registry.topic(
    "rescue.referral.counted",
    partitions=_FEW,
    description="Referrals opened and their status changes. Read by summary.",
)
REFERRAL_RECORDS = registry.topic(
    "rescue.referral.records",
    partitions=_FEW,
    description="The referral's record: deliveries acknowledged, failed, overdue; late referrals.",
    audience=_RECORD,
)

FOLLOWUP_HELP = registry.topic(
    "rescue.followup.help",
    partitions=_FEW,
    description="Help tasks opened for a returned person's difficulty. Read by referral.",
)
FOLLOWUP_COUNTED = registry.topic(
    "rescue.followup.counted",
    partitions=_FEW,
    description=(
        "Stabilisations opened, revisits recorded or overdue, repeat wandering. Read by summary."
    ),
)
FOLLOWUP_RECORDS = registry.topic(
    "rescue.followup.records",
    partitions=_FEW,
    description="The stabilisation's record: risk assessed, at-risk register, closings.",
    audience=_RECORD,
)

# The first layout, one topic per producing service: retired. Rows staged before
# the move keep their topic; every consumer of a successor drains these first.
INTAKE_EVENTS = registry.retire(
    "rescue.intake.events",
    partitions=6,
    successors=[INTAKE_STAYS, INTAKE_REFUSALS, INTAKE_INCIDENTS, INTAKE_COUNTED, INTAKE_RECORDS],
)
SEARCH_EVENTS = registry.retire(
    "rescue.search.events",
    partitions=6,
    successors=[
        SEARCH_IDENTITY,
        SEARCH_EARLIER_STAYS,
        SEARCH_REFUSAL_FACES,
        SEARCH_ESCALATIONS,
        SEARCH_COUNTED,
        SEARCH_RECORDS,
    ],
)
TRANSFER_EVENTS = registry.retire(
    "rescue.transfer.events",
    partitions=6,
    successors=[
        TRANSFER_HANDOVERS,
        TRANSFER_REFUSALS,
        TRANSFER_NOTICES,
        TRANSFER_COUNTED,
        TRANSFER_RECORDS,
    ],
)
REFERRAL_EVENTS = registry.retire(
    "rescue.referral.events", partitions=6, successors=[REFERRAL_COUNTED, REFERRAL_RECORDS]
)
FOLLOWUP_EVENTS = registry.retire(
    "rescue.followup.events",
    partitions=6,
    successors=[FOLLOWUP_HELP, FOLLOWUP_COUNTED, FOLLOWUP_RECORDS],
)

# What each service writes: its live topics, and its retired one (the outbox may
# still hold rows staged for it).
INTAKE_TOPICS = [INTAKE_STAYS, INTAKE_REFUSALS, INTAKE_INCIDENTS, INTAKE_COUNTED, INTAKE_RECORDS]
SEARCH_TOPICS = [
    SEARCH_IDENTITY,
    SEARCH_EARLIER_STAYS,
    SEARCH_REFUSAL_FACES,
    SEARCH_ESCALATIONS,
    SEARCH_COUNTED,
    SEARCH_RECORDS,
]
TRANSFER_TOPICS = [
    TRANSFER_HANDOVERS,
    TRANSFER_REFUSALS,
    TRANSFER_NOTICES,
    TRANSFER_COUNTED,
    TRANSFER_RECORDS,
]
REFERRAL_TOPICS = [REFERRAL_COUNTED, REFERRAL_RECORDS]
FOLLOWUP_TOPICS = [FOLLOWUP_HELP, FOLLOWUP_COUNTED, FOLLOWUP_RECORDS]

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
            f"network writes them (read by referral"
            + (", and by summary, which counts DNA samples" if partner == "police" else "")
            + f"); each agency receives its own on {AGENCY_TOPIC}."
        ),
        audience=f"{partner.replace('_', ' ')} agencies, each its own on {AGENCY_TOPIC}",
        # kept as the partners' contract: summary skips the police requests it does not count
        carried=("police_identity_check_requested", "police_referral")
        if partner == "police"
        else (),
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
    description=(
        "Partners' answers to referrals (acknowledged, accepted, declined, done), read by "
        "referral; the police's answers to identity checks and DNA results, read by search."
    ),
    # kept as the partners' one topic to write: each reader skips the other's answers
    carried=("partner_answer", "police_identity_check_answer", "police_dna_result"),
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
        "this region. Read by followup."
    ),
)

# The anchors of every service's audit chain (rescue_chassis.audit): keyed by the
# service's name so one chain's anchors stay in order on one partition.
AUDIT_EVENTS = registry.topic(
    "rescue.audit",
    partitions=6,
    key="service",
    description=(
        "The heads of each service's audit hash chain (who read or wrote which person "
        "record is kept in the service's own chain), anchored outside its database; "
        "the summary service keeps them for verification."
    ),
)
