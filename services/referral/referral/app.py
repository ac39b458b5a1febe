"""Referral: closed-loop hand-offs to police, women's federation and other agencies."""

from pathlib import Path

from referral import handlers, sweeps
from referral.api import routers
from referral.metrics import WORK_METRICS
from referral.settings import ReferralSettings
from referral.tables import tables
from rescue_chassis.app import ServiceDefinition
from rescue_divisions import preload as preload_division_codes
from rescue_events.contracts.topics import (
    PARTNER_ANSWERS,
    PARTNER_TOPICS,
    REFERRAL_EVENTS,
    REFERRAL_TOPICS,
)

service = ServiceDefinition(
    name="referral",
    title="Referral",
    description=(
        "Closed-loop referrals of vulnerable persons to partner agencies: rules as data, "
        "the partner directory, consent, deadlines, partner feeds, answers and webhooks."
    ),
    settings_class=ReferralSettings,
    tables=tables,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    # The answers topic is the partners' to write, but referral creates it, as the
    # service that reads it; the retired REFERRAL_EVENTS for rows staged before the move.
    produces=[*REFERRAL_TOPICS, REFERRAL_EVENTS, *PARTNER_TOPICS.values(), PARTNER_ANSWERS],
    routers=routers,
    handlers=handlers.handlers,
    periodic=sweeps.jobs,
    work_metrics=WORK_METRICS,
    startup=[preload_division_codes],  # admin codes in requests are checked against them
)
