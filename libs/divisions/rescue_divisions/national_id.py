"""The citizen identity number (公民身份号码, GB 11643-1999) and typed input.

18 characters: the 6-digit code of the place of registration (GB/T 2260), the
date of birth (8), a sequence (3) and a check character over the first 17
(ISO 7064 MOD 11-2, "X" for 10). No I/O: the region is checked for its shape and
province only, since an identity number keeps the code of the county that
issued it, however long ago that county was renamed or merged.

Numbers typed on a phone or a Chinese keyboard come with full-width digits
("４１１５０２…"), spaces and a lower-case x: ``normalise_national_id`` (NFKC,
no white space, upper case) makes them the number, before any check.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")

# Provinces, autonomous regions and municipalities; 71 Taiwan, 81 Hong Kong, 82 Macao.
PROVINCE_CODES = frozenset(
    {
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
    }
)
_ADMIN_SHAPE = re.compile(r"[0-9]{6}([0-9]{3}([0-9]{3})?)?")


def normalise_typed(text: str) -> str:
    """What was meant by typed digits and letters: NFKC (full-width ０-９ and Ｘ
    become 0-9 and X), no white space anywhere (a space typed between groups)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def normalise_national_id(number: str) -> str:
    return normalise_typed(number).upper()


def national_id_check_character(first17: str) -> str:
    """The check character of an identity number from its first 17 digits."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("the first 17 characters must be digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def national_id_problem(number: str, *, today: date | None = None) -> str | None:
    """Why ``number`` is not a valid identity number, or None when it is.
    Normalised first (full-width digits, spaces, a lower-case x)."""
    number = normalise_national_id(number)
    if len(number) != 18:
        return "must be 18 characters"
    if not _ID_SHAPE.fullmatch(number):
        return "must be 17 digits followed by a digit or X"
    if admin_code_problem(number[:6]) is not None:
        return "does not start with a valid administrative division code"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "does not contain a valid date of birth"
    if born > (today or date.today()) or born.year < 1900:
        return "does not contain a plausible date of birth"
    if national_id_check_character(number[:17]) != number[17]:
        return "fails the GB 11643 check character"
    return None


def mask_national_id(number: str) -> str:
    """For lists and logs: the region and the check character only."""
    return number[:6] + "*" * 11 + number[-1:]


def admin_code_problem(code: str) -> str | None:
    """The shape of a GB/T 2260 code (with town/village extension) and its
    province, without the gazetteer (``rescue_divisions.codes`` checks that the
    division exists)."""
    if not _ADMIN_SHAPE.fullmatch(code):
        return "must be 6, 9 or 12 digits"
    if int(code[:2]) not in PROVINCE_CODES:
        return f"starts with {code[:2]}, which is no province (11-65, 71, 81, 82)"
    return None
