from rescue_chassis.migrations import run_env
from transfer.tables import metadata

run_env(metadata)
