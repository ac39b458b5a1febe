"""What followup's routes share: the jurisdiction filter of the lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from rescue_divisions.fields import AdminCodeFilter

#: A town (9 digits) or county (6) code: the rows under it.
JurisdictionFilter = Annotated[str | None, Query(pattern=r"^[0-9]{6}([0-9]{3})?$"), AdminCodeFilter]
