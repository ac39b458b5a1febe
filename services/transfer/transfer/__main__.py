import sys

from transfer.app import service
from rescue_chassis.cli import main

sys.exit(main(service))
