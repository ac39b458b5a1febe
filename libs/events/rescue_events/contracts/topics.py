"""Topics of the network. A producing service writes several topics, each read
by the services that handle every event type on it (its description names
them): a consumer receives only what it handles. Per-person order holds within
a topic because every person event is keyed by ``person_id``; events a consumer
applies in order travel on the same topic (rescue.intake.stays for search).

Events no service reads go to a service's ``records`` topic, for the audience
its registration declares. The topics of the first layout (one per producing
service) are registered as retired, with their successors: what the outbox
staged before the move still arrives there and consumers drain it first."""

from rescue_events.registry import Topic, registry

# Low-volume topics: fewer partitions for the broker to serve and consumers to poll.
_FEW = 3
_RECORD = (
    "the record: no service of the network reads these; kept on the broker (7 days) for "
    "readers given access outside the network (provincial and national systems, auditors)"
)

# The layout, one row per live topic, grouped by the service that writes it (in
# the order its retired topic names them as successors). ``readers`` are the
# services handling events on it, named in its description; a topic no service
# reads declares its ``audience`` instead.
_LAYOUT: tuple[tuple[str, int, tuple[str, ...], str | None, tuple[str, ...], str], ...] = (
    # (name, partitions, readers, audience, carried, description)
    ("rescue.intake.stays", 6,
     ("search (all, in order)", "summary", "transfer", "referral",
      "followup (person_admitted)"),
     None,
     ("hospital_placement_made", "long_stay_reached", "long_hospital_stay_reached",
      "person_discharged", "burial_recorded", "photo_shared_for_search"),
     "Admissions and what search applies in order after them: hospital placements, long "
     "stays, discharges, burials, face photos shared for search."),
    ("rescue.intake.refusals", _FEW, ("search",), None, (),
     "Face photos of persons who refused help, for recognition."),
    ("rescue.intake.incidents", _FEW, ("referral", "summary"), None, (),
     "Incidents at a station (bureau reports)."),
    ("rescue.intake.counted", _FEW, ("summary",), None, (),
     "Refusals of help, leads, outsourced care and settlement steps."),
    ("rescue.intake.records", _FEW, (), _RECORD, (),
     "The stay's record: belongings, health checks, photos, lead triage."),
    ("rescue.search.identity", 6,
     ("intake", "transfer", "referral", "followup", "summary"), None, (),
     "Confirmed identities."),
    ("rescue.search.earlier_stays", _FEW, ("followup",), None, (),
     "Earlier stays recognised (repeat wandering)."),
    ("rescue.search.refusal_faces", _FEW, ("intake",), None, (),
     "Candidates recognised for a refusal's face photo."),
    ("rescue.search.escalations", _FEW, ("referral",), None, (),
     "Deadlines escalated to the civil-affairs bureau."),
    ("rescue.search.counted", _FEW, ("summary",), None, (),
     "Search cases opened, notices published, DNA hits reverified."),
    ("rescue.search.records", _FEW, (), _RECORD, (),
     "The search's record: clues, candidates, DNA results, notices, police checks, moves."),
    ("rescue.transfer.handovers", _FEW, ("intake", "followup", "summary"), None, (),
     "Persons handed over at home."),
    ("rescue.transfer.refusals", _FEW, ("referral", "summary"), None, (),
     "Handovers refused (escalated to the bureau)."),
    ("rescue.transfer.notices", _FEW, ("referral",), None, (),
     "Return notices to the home region's station."),
    ("rescue.transfer.counted", _FEW, ("summary",), None, (),
     "Returns opened, escorts planned and departed."),
    ("rescue.transfer.records", _FEW, (), _RECORD, (),
     "The return's record: escort legs, escalations resolved."),
    ("rescue.referral.counted", _FEW, ("summary",), None, (),
     "Referrals opened and their status changes."),
    ("rescue.referral.records", _FEW, (), _RECORD, (),
     "The referral's record: deliveries acknowledged, failed, overdue; late referrals."),
    ("rescue.followup.help", _FEW, ("referral",), None, (),
     "Help tasks opened for a returned person's difficulty."),
    ("rescue.followup.counted", _FEW, ("summary",), None, (),
     "Stabilisations opened, revisits recorded or overdue, repeat wandering."),
    ("rescue.followup.records", _FEW, (), _RECORD, (),
     "The stabilisation's record: risk assessed, at-risk register, closings."),
)  # fmt: skip


def _listed(readers: tuple[str, ...]) -> str:
    return readers[0] if len(readers) == 1 else ", ".join(readers[:-1]) + " and " + readers[-1]


def _layout_topic(name, partitions, readers, audience, carried, description) -> Topic:
    if not readers and not audience:  # every event has a reader or a declared audience
        raise ValueError(f"topic {name!r} needs its readers or its audience")
    if readers:
        description = f"{description} Read by {_listed(readers)}."
    return registry.topic(
        name, partitions=partitions, description=description, audience=audience, carried=carried
    )


_LIVE = {row[0]: _layout_topic(*row) for row in _LAYOUT}

INTAKE_STAYS = _LIVE["rescue.intake.stays"]
INTAKE_REFUSALS = _LIVE["rescue.intake.refusals"]
INTAKE_INCIDENTS = _LIVE["rescue.intake.incidents"]
INTAKE_COUNTED = _LIVE["rescue.intake.counted"]
INTAKE_RECORDS = _LIVE["rescue.intake.records"]
SEARCH_IDENTITY = _LIVE["rescue.search.identity"]
SEARCH_EARLIER_STAYS = _LIVE["rescue.search.earlier_stays"]
SEARCH_REFUSAL_FACES = _LIVE["rescue.search.refusal_faces"]
SEARCH_ESCALATIONS = _LIVE["rescue.search.escalations"]
SEARCH_COUNTED = _LIVE["rescue.search.counted"]
SEARCH_RECORDS = _LIVE["rescue.search.records"]
TRANSFER_HANDOVERS = _LIVE["rescue.transfer.handovers"]
TRANSFER_REFUSALS = _LIVE["rescue.transfer.refusals"]
TRANSFER_NOTICES = _LIVE["rescue.transfer.notices"]
TRANSFER_COUNTED = _LIVE["rescue.transfer.counted"]
TRANSFER_RECORDS = _LIVE["rescue.transfer.records"]
REFERRAL_COUNTED = _LIVE["rescue.referral.counted"]
REFERRAL_RECORDS = _LIVE["rescue.referral.records"]
FOLLOWUP_HELP = _LIVE["rescue.followup.help"]
FOLLOWUP_COUNTED = _LIVE["rescue.followup.counted"]
FOLLOWUP_RECORDS = _LIVE["rescue.followup.records"]


def _written_by(service: str) -> list[Topic]:
    return [t for t in _LIVE.values() if t.name.startswith(f"rescue.{service}.")]


# What each service writes: its live topics, and its retired one (the outbox may
# still hold rows staged for it).
INTAKE_TOPICS = _written_by("intake")
SEARCH_TOPICS = _written_by("search")
TRANSFER_TOPICS = _written_by("transfer")
REFERRAL_TOPICS = _written_by("referral")
FOLLOWUP_TOPICS = _written_by("followup")

# The first layout, one topic per producing service: retired. Rows staged before
# the move keep their topic; every consumer of a successor drains these first.
INTAKE_EVENTS = registry.retire("rescue.intake.events", partitions=6, successors=INTAKE_TOPICS)
SEARCH_EVENTS = registry.retire("rescue.search.events", partitions=6, successors=SEARCH_TOPICS)
TRANSFER_EVENTS = registry.retire(
    "rescue.transfer.events", partitions=6, successors=TRANSFER_TOPICS
)
REFERRAL_EVENTS = registry.retire(
    "rescue.referral.events", partitions=6, successors=REFERRAL_TOPICS
)
FOLLOWUP_EVENTS = registry.retire(
    "rescue.followup.events", partitions=6, successors=FOLLOWUP_TOPICS
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
