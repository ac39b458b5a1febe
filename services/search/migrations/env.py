from rescue_chassis.migrations import run_env
from search.tables import metadata

run_env(metadata)
