import sys

from search.app import service
from rescue_chassis.cli import main

sys.exit(main(service))
