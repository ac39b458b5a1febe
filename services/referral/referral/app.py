"""Referral: closed-loop hand-offs to police, women's federation and other agencies."""

from pathlib import Path

from referral import api, handlers
from referral.settings import ReferralSettings
from referral.tables import tables
from rescue_chassis.app import ServiceDefinition
from rescue_events.contracts import REFERRAL_EVENTS

service = ServiceDefinition(
    name="referral",
    title="Referral",
    description="Referrals of vulnerable persons to partner agencies.",
    settings_class=ReferralSettings,
    tables=tables,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    produces=[REFERRAL_EVENTS],
    routers=[api.router],
    handlers=handlers.handlers,
)
