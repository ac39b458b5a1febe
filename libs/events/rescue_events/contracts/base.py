"""What every event contract shares.

Contracts are the wire: hand-written, versioned, additive-only within a version.
They are frozen (an event is a fact) and ignore unknown fields on read, so a
consumer keeps working when a producer adds an optional field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

PersonId = Annotated[
    UUID,
    Field(description="Minted at intake; the Kafka key of every event about this person."),
]
StationId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="The rescue station, e.g. `center` or `county-east`.",
        examples=["county-east"],
    ),
]
Timestamp = Annotated[AwareDatetime, Field(description="UTC or with an explicit offset.")]


class EventContract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    person_id: PersonId


class PersonCategory(StrEnum):
    """Categories recorded on admission (DOMAIN.md, "Intake")."""

    MINOR = "minor"
    ELDERLY = "elderly"
    DISABLED = "disabled"
    MENTAL_ILLNESS = "mental_illness"
    DEMENTIA = "dementia"
    PREGNANT = "pregnant"
    DOMESTIC_VIOLENCE_VICTIM = "domestic_violence_victim"
    SUSPECTED_TRAFFICKING = "suspected_trafficking"
    COERCED_BEGGING = "coerced_begging"
