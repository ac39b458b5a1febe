"""China's administrative divisions for every service that reads a code or an
identity number: which codes exist (GB/T 2260 and the statistics bureau's town
and village extensions, current and former), the GB 11643 identity number, and
the request field types that normalise and check both.

    from rescue_divisions import division_codes
    codes = division_codes()          # this process's, loaded once (milliseconds)
    codes.resolve("411502")           # the current code, or None
    codes.province_of("411502")       # '河南省'

    from rescue_divisions.fields import HomeAdminCode, NationalIdNumber

The data is the gazetteer's sources in ``var/gazetteer`` (``$GAZETTEER_DIR``),
fetched by ``make setup`` (``python -m rescue_divisions``); search builds its
place-name index from the same directory.
"""

from rescue_divisions.codes import (
    Division,
    DivisionCodes,
    DivisionDataMissing,
    Level,
    division_codes,
    load_division_codes,
)

# (the module rescue_divisions.fetch, not its function, is the package's ``fetch``)
from rescue_divisions.fetch import FetchError, default_dir

__all__ = [
    "Division",
    "DivisionCodes",
    "DivisionDataMissing",
    "FetchError",
    "Level",
    "default_dir",
    "division_codes",
    "load_division_codes",
    "preload",
]


def preload() -> None:
    """Load this process's codes now (a service's start-up), so the first request
    does not, and a missing data directory stops the start."""
    division_codes()
