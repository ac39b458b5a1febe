"""Request fields that carry an identity number or an administrative code: one
annotated type each, so every service reads them the same way.

Typed input is normalised first (NFKC: full-width digits and letters become
ASCII; white space dropped; identity numbers upper-cased), then checked: an
identity number against GB 11643, a code against the gazetteer
(``rescue_divisions.codes``). A refusal is a validation error of that field,
which the chassis answers as a 422 problem naming the field and the reason.

    from rescue_divisions.fields import HomeAdminCode, NationalIdNumber

    class Confirmation(BaseModel):
        national_id_number: NationalIdNumber | None = None
        home_province: str
        home_admin_code: HomeAdminCode | None = None

        _agrees = field_validator("home_admin_code")(home_in_province("home_province"))

A former code is kept as given (what the person or the document says) once it
is known to resolve to a current division; ``division_codes().resolve(code)``
gives the current code where one is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints, ValidationInfo
from pydantic_core import PydanticCustomError

from rescue_divisions.codes import division_codes
from rescue_divisions.national_id import (
    national_id_problem,
    normalise_national_id,
    normalise_typed,
)

ADMIN_CODE_PATTERN = r"^[0-9]{6}([0-9]{3}([0-9]{3})?)?$"
JURISDICTION_PATTERN = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$"


def _refused(kind: str, reason: str) -> PydanticCustomError:
    # The reason as the message, nothing prefixed ("Value error, …").
    return PydanticCustomError(kind, "{reason}", {"reason": reason})


def normalise_code(value: Any) -> Any:
    """Typed digits as digits: NFKC, no white space (non-strings pass through)."""
    return normalise_typed(value) if isinstance(value, str) else value


def _normalise_id(value: Any) -> Any:
    return normalise_national_id(value) if isinstance(value, str) else value


def _home(code: str) -> str:
    if (reason := division_codes().home_problem(code)) is not None:
        raise _refused("admin_code", reason)
    return code


def _jurisdiction(prefix: str) -> str:
    if (reason := division_codes().jurisdiction_problem(prefix)) is not None:
        raise _refused("admin_code", reason)
    return prefix


def checked_national_id(number: str) -> str:
    """The number if it is a valid GB 11643 identity number (normalised), else
    a validation error saying why."""
    number = normalise_national_id(number)
    if (reason := national_id_problem(number)) is not None:
        raise _refused("national_id", reason)
    return number


#: A person's home (户籍地): a county (6 digits), town (9) or village (12) code,
#: current or former; kept as given.
HomeAdminCode = Annotated[
    str,
    StringConstraints(pattern=ADMIN_CODE_PATTERN),  # before the validators: in the schema
    BeforeValidator(normalise_code),  # runs first all the same
    AfterValidator(_home),
]

#: The code prefix an agency serves: a current province (2 digits), city (4),
#: county (6), town (9) or village (12).
JurisdictionPrefix = Annotated[
    str,
    StringConstraints(pattern=JURISDICTION_PATTERN),
    BeforeValidator(normalise_code),
    AfterValidator(_jurisdiction),
]

#: A code to filter by (query and path parameters): normalised, shaped by the
#: parameter's own pattern; a code that names nothing simply finds nothing.
AdminCodeFilter = BeforeValidator(normalise_code)

#: 公民身份号码: normalised (full-width digits, spaces, a lower-case x), then
#: checked (GB 11643: length, date of birth, check character).
NationalIdNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=30),
    BeforeValidator(_normalise_id),
    AfterValidator(checked_national_id),
]

#: An identity document's number (resident ID card, passport, household register):
#: 4 to 40 characters as normalised; a resident ID card's is checked by
#: ``checked_national_id`` where the request names the document's type.
DocumentNumber = Annotated[
    str, StringConstraints(min_length=4, max_length=40), BeforeValidator(_normalise_id)
]


def home_in_province(
    province_field: str,
) -> Callable[[str | None, ValidationInfo], str | None]:
    """A field validator for a code field declared after ``province_field``: the
    code must lie in that province (a former code: then or now). The error names
    the code field, its reason the province field."""

    def agrees(code: str | None, info: ValidationInfo) -> str | None:
        province = info.data.get(province_field)
        if code is None or not isinstance(province, str):
            return code
        reason = division_codes().province_problem(code, province, field=province_field)
        if reason is not None:
            raise _refused("admin_code_province", reason)
        return code

    return agrees
