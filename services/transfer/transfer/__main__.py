import sys

from rescue_chassis.cli import main
from transfer.app import service

sys.exit(main(service))
