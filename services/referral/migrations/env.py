from referral.tables import metadata
from rescue_chassis.migrations import run_env

run_env(metadata)
