from rescue_chassis.migrations import run_env
from summary.tables import metadata

run_env(metadata)
