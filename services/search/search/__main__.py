import sys

from rescue_chassis.cli import main
from search.app import service

sys.exit(main(service))
