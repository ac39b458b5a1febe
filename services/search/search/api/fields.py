"""Request fields several parts of search share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from rescue_events.contracts import Sex
from search.tables import SearchCase


class AsSeen(BaseModel):
    """Sex and age as staff see them now; the admission's when left out."""

    model_config = ConfigDict(extra="forbid")

    sex: Sex | None = Field(
        default=None, description="As seen; the admission's if left out.", examples=["male"]
    )
    estimated_age: StrictInt | None = Field(
        default=None,
        ge=0,
        le=120,
        description="Estimated age in years; the admission's if left out.",
        examples=[60],
    )

    def sex_or_admitted(self, case: SearchCase) -> Sex:
        return self.sex or Sex(case.sex or Sex.UNKNOWN.value)

    def age_or_admitted(self, case: SearchCase) -> int | None:
        return self.estimated_age if self.estimated_age is not None else case.estimated_age
