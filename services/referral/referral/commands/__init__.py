"""Referral's use cases: each takes a command it owns and a unit of work
(rescue_chassis.commands), and says no with rescue_chassis.refusals."""
